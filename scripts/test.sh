#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages, .venv), then runs pytest.
# Extra arguments go to pytest (e.g. -k winrm, -x) and run everything in one process.
#
# Without arguments the browser tests (real Chromium via Playwright's sync API) run in a pytest process
# of their own first: Playwright's greenlet-driven event loop leaves the interpreter unfit for the
# asyncio-based integration tests that follow, so the two never share a process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/services.sh  # PostgreSQL and Redis on loopback (started only when not already running)
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider)
if [ $# -gt 0 ]; then
  exec "${PYTEST[@]}" "$@"
fi
"${PYTEST[@]}" tests/browser
exec "${PYTEST[@]}" --ignore=tests/browser
