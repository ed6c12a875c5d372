"""ansible-core on the same lab hosts: the idiomatic playbook (one ``raw`` task per collection command)
and the hand-tuned one (one ``raw`` task running every command joined), at forks 50, gather_facts off,
pipelining on. Playbooks are generated from the shipped collectors so both tools run the same commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import BIN, PLAYBOOKS, ROOT

HERE = Path(__file__).resolve().parent / "ansible"
FORKS = 50
ANSIBLE_CFG = f"""[defaults]
forks = {FORKS}
gathering = explicit
host_key_checking = True
retry_files_enabled = False
interpreter_python = auto_silent
timeout = 30

[ssh_connection]
pipelining = True
ssh_args = -C -o ControlMaster=auto -o ControlPersist=120s
"""
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def edge_commands() -> list[str]:
    book = yaml.safe_load((PLAYBOOKS[1]).read_text(encoding="utf-8"))
    return [str(c["command"]) for play in book for c in (play.get("gather") or {}).get("linux", [])]


def windows_commands() -> list[str]:
    lines = (HERE / "windows_commands.txt").read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


def windows_audit_script() -> str:
    return (ROOT / "auditor" / "collectors" / "scripts" / "windows_audit.ps1").read_text(encoding="utf-8-sig")


def _raw(name: str, command: str) -> dict[str, Any]:
    # {% raw %} keeps Go templates like {{json .}} away from Jinja; changed/failed_when as read-only audits do.
    return {"name": name, "raw": "{% raw %}" + command + "{% endraw %}", "register": "out",
            "changed_when": False, "failed_when": False}


def playbook(form: str) -> list[dict[str, Any]]:
    """The ``idiomatic`` or ``handtuned`` playbook as data."""
    if form == "idiomatic":
        win = [_raw(f"windows {i + 1}", c) for i, c in enumerate(windows_commands())]
        edge = [_raw(f"edge {i + 1}", c) for i, c in enumerate(edge_commands())]
    elif form == "handtuned":
        win = [_raw("windows audit (one script)", windows_audit_script())]
        edge = [_raw("edge audit (joined)", "; ".join(f"echo '@@{i}'; {c}" for i, c in enumerate(edge_commands())))]
    else:
        raise ValueError(form)
    return [{"name": "windows", "hosts": "windows", "gather_facts": False, "tasks": win},
            {"name": "edge", "hosts": "edge", "gather_facts": False, "tasks": edge}]


def parse_recap(text: str) -> dict[str, int]:
    """Totals over ansible's PLAY RECAP: hosts, ok tasks, failed and unreachable hosts."""
    hosts = ok = failed = unreachable = 0
    for m in _RECAP.finditer(text):
        hosts += 1
        ok += int(m.group(2))
        unreachable += int(m.group(4)) > 0
        failed += int(m.group(5)) > 0
    return {"hosts": hosts, "ok_tasks": ok, "failed": failed, "unreachable": unreachable}


def run_ansible(inventory: Path, form: str, workdir: Path, limit: int | None = None) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "ansible.cfg").write_text(ANSIBLE_CFG)
    book = workdir / f"{form}.yml"
    book.write_text(yaml.safe_dump(playbook(form), sort_keys=False, width=10_000))
    env = dict(os.environ, ANSIBLE_CONFIG=str(workdir / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"), ANSIBLE_SSH_CONTROL_PATH_DIR=str(workdir / "cp"))
    log = workdir / f"{form}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(book)],
                              stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    wall = time.perf_counter() - t0
    recap = parse_recap(log.read_text(errors="replace"))
    tasks = " + ".join(f"{len(p['tasks'])} {p['name']}" for p in playbook(form))
    return {"form": form, "wall_s": round(wall, 3), "rc": proc.returncode, "tasks": tasks, **recap, "log": str(log)}
