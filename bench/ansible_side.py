"""ansible-core on the same lab hosts, timed as a user runs it, with its answers checked.

Two forms, generated from what auditor itself sends so both tools run the same commands:

- **idiomatic**: one ``raw`` task per collection command: the edge playbook's commands one by one, and on
  Windows the 16 PowerShell one-liners that read what ``windows_audit.ps1`` reads
  (``auditor.lab.models.windows_oneliners``, which the lab's Windows hosts answer from their state);
- **hand-tuned**: one ``raw`` task per host: ``windows_audit.ps1`` on Windows, the edge commands
  joined with an ``echo '@@<i>'`` marker before each.

Command texts go in as ``!unsafe`` variables, so Jinja2 never touches them (Go templates such as
``{{json .}}`` stay as written). ``gather_facts: false``, ``changed_when/failed_when: false`` as
read-only audit tasks usually have, pipelining on, OpenSSH + sshpass for the edge nodes with the lab's
known_hosts file (host keys checked, as auditor checks them).

A run counts only when the lab gave real answers to every command: the recap must list every host
with ``ok`` equal to its play's task count and no failed/unreachable host, and each task's output
(printed with ``-v``) must carry what that command answers on a lab host (``check_outputs``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from auditor.lab.models.windows_oneliners import ONE_LINERS
from bench.common import BIN, PLAYBOOKS, ROOT
from bench.measure import Timed, timed_run

ANSIBLE_CFG = """[defaults]
forks = {forks}
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
_TASK = re.compile(r"^TASK \[(.*)\] \*+$")
_RESULT = re.compile(r"^(ok|changed|failed|fatal): \[([^\]]+)\]( => )?(.*)$")
#: what the lab's shell model answers to a command it does not know (sh) and Windows' equivalent
_UNKNOWN = re.compile(r"sh: \d+: (?!docker:)\S+: not found|is not recognized as")


class Unsafe(str):
    """A string ansible must not template (dumped with the ``!unsafe`` tag)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Unsafe, lambda d, s: d.represent_scalar("!unsafe", str(s), style="|"))


def edge_commands() -> list[str]:
    book = yaml.safe_load(PLAYBOOKS[1].read_text(encoding="utf-8"))
    return [str(c["command"]) for play in book for c in (play.get("gather") or {}).get("linux", [])]


def windows_audit_script() -> str:
    return (ROOT / "auditor" / "collectors" / "scripts" / "windows_audit.ps1").read_text(encoding="utf-8-sig")


def joined_edge(commands: list[str]) -> str:
    return "\n".join(f"echo '@@{i}'; {c}" for i, c in enumerate(commands)) + "\n"


def tasks_of(form: str) -> dict[str, list[tuple[str, str]]]:
    """group -> [(task name, command text)] of the ``idiomatic`` or ``handtuned`` form."""
    edge = edge_commands()
    win = [("windows audit", windows_audit_script())]
    if form == "idiomatic":
        return {"windows": [(f"windows {o.name}", o.command) for o in ONE_LINERS],
                "edge": [(f"edge {i + 1}", c) for i, c in enumerate(edge)]}
    if form == "handtuned":
        return {"windows": win, "edge": [("edge audit (joined)", joined_edge(edge))]}
    raise ValueError(form)


def playbook_text(form: str) -> str:
    plays = []
    for group, tasks in tasks_of(form).items():
        plays.append({"name": group, "hosts": group, "gather_facts": False,
                      "vars": {f"cmd_{i}": Unsafe(text) for i, (_, text) in enumerate(tasks)},
                      "tasks": [{"name": name, "raw": f"{{{{ cmd_{i} }}}}", "changed_when": False, "failed_when": False}
                                for i, (name, _) in enumerate(tasks)]})
    return yaml.dump(plays, Dumper=_Dumper, sort_keys=False, width=10_000)


def expected_marker(task: str, command: str) -> str | None:
    """A text the stdout of this task must contain on every lab host (None: no fixed text)."""
    if task == "windows audit":
        return '"schema":"wsl-docker-audit/1"'
    if task.startswith("windows "):
        return next((o.marker for o in ONE_LINERS if f"windows {o.name}" == task), None)
    if task.startswith("edge audit"):
        return f"@@{len(edge_commands()) - 1}"
    return {"uname -r": ".", "cat /etc/os-release": "ID=", "ip -j addr show": '"ifname"',
            "ip -j route show": "["}.get(command.strip())


def parse_recap(text: str) -> dict[str, tuple[int, int, int]]:
    """host -> (ok, unreachable, failed) from ansible's PLAY RECAP."""
    return {m.group(1): (int(m.group(2)), int(m.group(4)), int(m.group(5))) for m in _RECAP.finditer(text)}


def parse_results(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(task name, host) -> the result ansible printed with ``-v`` (one JSON object per line)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    task = ""
    for line in text.splitlines():
        t = _TASK.match(line)
        if t:
            task = t.group(1)
            continue
        r = _RESULT.match(line)
        if r:
            try:
                result = json.loads(r.group(4)) if r.group(3) else {}
            except ValueError:
                result = {"unparsed": r.group(4)}
            result["_status"] = r.group(1)
            out[(task, r.group(2))] = result
    return out


def check_outputs(text: str, form: str, groups: dict[str, list[str]]) -> list[str]:
    """Every problem with one run's output (empty: the lab answered every command of every host)."""
    problems: list[str] = []
    recap, results = parse_recap(text), parse_results(text)
    tasks = tasks_of(form)
    for group, hosts in groups.items():
        for host in hosts:
            ok, unreachable, failed = recap.get(host, (-1, -1, -1))
            if (ok, unreachable, failed) != (len(tasks[group]), 0, 0):
                problems.append(f"{host}: recap ok={ok} unreachable={unreachable} failed={failed}, "
                                f"expected ok={len(tasks[group])} and no failure")
                continue
            for name, command in tasks[group]:
                res = results.get((name, host))
                if res is None:
                    problems.append(f"{host}: no output for task {name!r}")
                    continue
                stdout, stderr = str(res.get("stdout", "")), str(res.get("stderr", ""))
                if _UNKNOWN.search(stdout) or _UNKNOWN.search(stderr):
                    problems.append(f"{host}: the lab did not know task {name!r}: {(stderr or stdout)[:120]!r}")
                marker = expected_marker(name, command)
                if marker is not None and marker not in stdout:
                    problems.append(f"{host}: task {name!r} output lacks {marker!r}: {(stdout or stderr)[:120]!r}")
    return problems


def inventory_groups(inventory: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    children = data["all"]["children"]
    return {g: list((children.get(g) or {}).get("hosts") or {}) for g in ("windows", "edge")}


def missing_tools() -> list[str]:
    """What ansible's ssh connection needs on this machine and is not there."""
    return [tool for tool in ("ssh", "sshpass") if shutil.which(tool) is None] + \
        ([] if (BIN / "ansible-playbook").exists() else ["ansible-playbook (the venv's `test` extra)"])


def run_ansible(inventory: Path, form: str, workdir: Path, forks: int) -> dict[str, Any]:
    """One timed ``ansible-playbook`` run (a subprocess, start to exit) and the check of its answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "ansible.cfg"
    cfg.write_text(ANSIBLE_CFG.format(forks=forks))
    book = workdir / f"{form}.yml"
    book.write_text(playbook_text(form))
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(workdir / "cp"))
    log = workdir / f"{form}-forks{forks}.log"
    run: Timed = timed_run([str(BIN / "ansible-playbook"), "-v", "-i", str(inventory), str(book)], log, cwd=workdir,
                           env=env, sample_memory=False)
    text = log.read_text(errors="replace")
    problems = check_outputs(text, form, inventory_groups(inventory))
    groups = inventory_groups(inventory)
    return {"form": form, "forks": forks, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "rc": run.returncode,
            "tasks": " + ".join(f"{len(t)} {g}" for g, t in tasks_of(form).items()),
            "hosts": sum(len(h) for h in groups.values()), "problems": len(problems), "problem_examples": problems[:5],
            "valid": run.returncode == 0 and not problems, "log": str(log)}


def version() -> str:
    out = subprocess.run([str(BIN / "ansible-playbook"), "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.stdout else "?"
