"""What a one-shot ``auditor run`` pays before its first host: ``python -m bench.startup [--repeat 7]``.

Times fresh interpreters (subprocesses, start to exit, best of ``--repeat``; CPU includes what they wait for,
e.g. the compiler ``ctypes.util.find_library`` runs when asyncssh looks for liboqs):

- ``python -c pass``: the interpreter alone;
- the libraries ``auditor run`` imports, and nothing of auditor (asyncssh, SQLAlchemy, pydantic, Jinja2's
  sandbox, PyYAML, Typer, rich, pyspnego, h11): the part of start-up no change to auditor's own code removes;
- ``auditor --version``: the command line alone;
- every module ``auditor run`` has imported when its workers fork (its command, the store, history, reports,
  waivers and both transports).

Measures whatever these are; asserts nothing. Compile auditor's modules first (``python -m compileall -q
auditor``), as an installed wheel is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from typing import Any

from bench.common import BIN, PYTHON, ROOT

LIBRARIES = ["asyncssh", "sqlalchemy", "pydantic", "jinja2.sandbox", "yaml", "typer", "rich.console", "spnego", "h11"]
RUN_MODULES = ["auditor.commands.run", "auditor.api", "auditor.history.annotate", "auditor.report.writers",
               "auditor.store.recording", "auditor.store.store", "auditor.waivers", "auditor.workers",
               "auditor.transports.ssh", "auditor.transports.winrm_native"]
STEPS: list[tuple[str, list[str]]] = [
    ("python -c pass", [PYTHON, "-c", "pass"]),
    ("the libraries auditor run imports", [PYTHON, "-c", "import " + ", ".join(LIBRARIES)]),
    ("auditor --version", [str(BIN / "auditor"), "--version"]),
    ("every module auditor run imports before forking", [PYTHON, "-c", "import " + ", ".join(RUN_MODULES)]),
]


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the process and what it waited for) of one run."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def measure(repeat: int) -> list[dict[str, Any]]:
    out = []
    for label, argv in STEPS:
        runs = [timed(argv) for _ in range(repeat)]
        out.append({"step": label, "wall_s": round(min(w for w, _ in runs), 3), "cpu_s": round(min(c for _, c in runs), 3),
                    "wall_median_s": round(sorted(w for w, _ in runs)[len(runs) // 2], 3)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="runs per step; the best is reported (default 7)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    rows = measure(args.repeat)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| step | wall s (best) | wall s (median) | CPU s (best) |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['step']} | {r['wall_s']:.3f} | {r['wall_median_s']:.3f} | {r['cpu_s']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
