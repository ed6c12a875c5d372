#!/usr/bin/env bash
# Installs everything auditor and its tests need on a fresh Debian machine (idempotent, quiet when done).
#   scripts/setup.sh          Python venv (.venv) with auditor installed (+ libkrb5-dev and gcc, to build
#                             python-gssapi / krb5 / pykerberos for Kerberos)
#   scripts/setup.sh --test   ... plus test dependencies and Debian packages (openssh-server, chromium, iproute2,
#                             the MIT KDC for the Kerberos lab: krb5-kdc, krb5-admin-server, krb5-user; libfaketime)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

missing=()
command -v krb5-config >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
if [ "$want_test" = 1 ]; then
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  [ -x /usr/sbin/krb5kdc ] || missing+=(krb5-kdc)
  [ -x /usr/sbin/kadmin.local ] || missing+=(krb5-admin-server)
  [ -x /usr/bin/kinit ] || missing+=(krb5-user)
  ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 || missing+=(libfaketime)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.auditor-installed$want_test"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if [ "$want_test" = 1 ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
  else
    .venv/bin/python -m pip install -q -e .
  fi
  touch "$stamp"
fi
