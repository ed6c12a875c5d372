"""Ask ansible-core itself: ansible-inventory and ``ansible PATTERN --list-hosts``, many times, fast.

Used by tests/integration/test_inventory_vs_ansible.py. A fresh ansible process costs ~0.7 s, most
of it imports; this script imports ansible once and forks a child per request, so every request
still runs in a pristine ansible process (ansible keeps CLI args and caches in globals).
Usage: ansible_oracle.py REQUESTS.json RESULTS.json, where each request is
``{"kind": "inventory"|"adhoc"|"patterns", "argv": [...], "cwd": "...", "patterns": [[p, limit]...]}`` and each result ``{"rc", "stdout", "stderr"}``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _patterns(cli_class: type, argv: list[str], patterns: list[list]) -> None:
    """What ``ansible PATTERN --limit L --list-hosts`` selects, for many (PATTERN, L) on one inventory:
    the same InventoryManager calls (subset, then list_hosts) as ansible's CLI.get_host_list."""
    from ansible.errors import AnsibleError

    cli = cli_class(argv)
    cli.parse()
    _loader, inventory, _vm = cli._play_prereqs()
    answers = []
    for pattern, limit in patterns:
        try:
            inventory.subset(limit)
            answers.append([h.name for h in inventory.list_hosts(pattern)])
        except AnsibleError as exc:
            answers.append({"error": str(exc).splitlines()[0]})
    print(json.dumps(answers))


def _child(kind: str, argv: list[str], patterns: list[list], cwd: str, out_fd: int, err_fd: int) -> None:
    os.chdir(cwd)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    from ansible.cli.adhoc import AdHocCLI
    from ansible.cli.inventory import InventoryCLI

    code = 0
    try:
        if kind == "patterns":
            _patterns(InventoryCLI, argv, patterns)
        else:
            (InventoryCLI if kind == "inventory" else AdHocCLI).cli_executor(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_one(request: dict) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                _child(request["kind"], request["argv"], request.get("patterns", []), request.get("cwd", "."), out.fileno(), err.fileno())
            finally:
                os._exit(250)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {"rc": os.waitstatus_to_exitcode(status), "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")}


def main() -> None:
    os.environ["ANSIBLE_NOCOLOR"] = "1"
    os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
    import ansible.cli.adhoc  # noqa: F401 - import once, before forking
    import ansible.cli.inventory  # noqa: F401

    with open(sys.argv[1], encoding="utf-8") as fh:
        requests = json.load(fh)
    results = [run_one(r) for r in requests]
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main()
