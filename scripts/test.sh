#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages, .venv), then runs pytest.
# Extra arguments go to pytest (e.g. -k winrm, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
