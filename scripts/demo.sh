#!/usr/bin/env bash
# The main job on the built-in simulated fleet: set up, start ~50 simulated hosts, audit them, write reports.
# Extra arguments go to `auditor demo` (e.g. --output DIR --report html,json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/auditor demo "$@"
