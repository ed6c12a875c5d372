"""Simulated hosts applying remediation steps to their state, so a re-audit shows the effect.

``auditor remediate`` sends real PowerShell / sh whose first two lines name the step and carry its
arguments (``auditor.remediate.wire``). A lab model's collector dispatcher hands such scripts to
``apply_remediation(model, script)``, which does to the model's state what the real script does to a
real host, and answers with the JSON the real script prints.

Files other than a profile's `.wslconfig` (backups, files a command creates) live in
``model.remediation_files`` (path -> bytes, case-insensitive paths). Fault knob for tests:
``model.remediation_faults`` (a set): ``"write"`` makes the temporary file write fail after the backup
was taken (disk full), ``"read"`` makes reading the file fail (access denied), ``"lose-reply"`` applies a
``.wslconfig`` write and then loses its answer (a connection that drops at the worst moment).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any

from auditor.remediate.wire import Step, parse_step

_LOCK = threading.Lock()


def is_remediation(script: str) -> bool:
    return script.lstrip("\ufeff").startswith("# auditor-module: ")


def apply_remediation(model: Any, script: str) -> Any:
    """The CommandOutcome of one remediation step on ``model`` (Windows or edge), state changed."""
    windows = hasattr(model, "run_statements")
    if windows:
        from auditor.lab.winrs.model import CommandOutcome
    else:
        from auditor.lab.sshd import CommandOutcome  # type: ignore[assignment]

    step = parse_step(script)
    if step is None:
        return CommandOutcome(stderr=b"auditor lab: malformed remediation step header\n", rc=1)
    with _LOCK:  # steps of one host arrive from the server's worker threads
        handler = _HANDLERS.get(step.name)
        if handler is None:
            return CommandOutcome(stderr=f"auditor lab: unknown remediation step {step.name}\n".encode(), rc=1)
        reply = handler(model, step)
    if step.name == "wslconfig.write" and "lose-reply" in _faults(model):
        return CommandOutcome(b"", rc=0)  # the write happened; the answer never arrives
    if not isinstance(reply, dict):
        return reply  # commands answer with the model's own outcome
    return CommandOutcome((json.dumps(reply, separators=(",", ":")) + ("\r\n" if windows else "\n")).encode("utf-8"))


# --- helpers --------------------------------------------------------------------------------------


def _files(model: Any) -> dict[str, bytes]:
    if not hasattr(model, "remediation_files"):
        model.remediation_files = {}
    return model.remediation_files


def _faults(model: Any) -> set[str]:
    return set(getattr(model, "remediation_faults", set()) or ())


def _now(model: Any) -> datetime:
    """A lab clock that only moves forward: every change is later than the last one (and than LAB_EPOCH)."""
    from auditor.lab.models.windows_state import LAB_EPOCH

    clock = getattr(model, "_remediation_clock", LAB_EPOCH)
    clock = clock + timedelta(minutes=1)
    model._remediation_clock = clock
    return clock


def _profile_user(model: Any, path: str) -> Any:
    for u in getattr(model.state, "users", []):
        if path.lower() == f"{u.path}\\.wslconfig".lower():
            return u
    return None


def _user_by_account(model: Any, account: str) -> Any:
    name = account.replace("/", "\\").rsplit("\\", 1)[-1]
    return model.state.user(name)


def _read_bytes(model: Any, path: str) -> bytes | None:
    user = _profile_user(model, path)
    if user is not None:
        return user.wslconfig
    return next((v for k, v in _files(model).items() if k.lower() == path.lower()), None)


def _ts(value: datetime | None) -> str | None:
    from auditor.lab.models.windows_state import ts

    return ts(value)


# --- wslconfig ----------------------------------------------------------------------------------


def _wslconfig_read(model: Any, step: Step) -> dict[str, Any]:
    path = str(step.args.get("path", ""))
    user = _profile_user(model, path)
    if "read" in _faults(model) or (user is not None and user.wslconfig_error):
        return {"Exists": True, "Length": 0, "Base64": None,
                "Error": (user.wslconfig_error if user is not None and user.wslconfig_error else None)
                or f"Access to the path '{path}' is denied."}
    data = _read_bytes(model, path)
    if data is None:
        return {"Exists": False, "Length": 0, "Base64": None, "Error": None}
    small = len(data) <= int(step.args.get("max", 1 << 20))
    return {"Exists": True, "Length": len(data), "Base64": base64.b64encode(data).decode() if small else None, "Error": None}


def _wslconfig_write(model: Any, step: Step) -> dict[str, Any]:
    a = step.args
    path = str(a.get("path", ""))
    user = _profile_user(model, path)
    current = _read_bytes(model, path)
    sha = hashlib.sha256(current).hexdigest() if current is not None else ""
    res: dict[str, Any] = {"Written": False, "Backup": None, "Error": None}
    if sha.lower() != str(a.get("expect", "")).lower():
        res["Error"] = "the file changed after it was read; nothing was written"
        return res
    files = _files(model)
    if current is not None and a.get("backup"):
        base = str(a.get("backup_path"))
        bak, i = base + ".bak", 1
        while any(k.lower() == bak.lower() for k in files):
            bak, i = f"{base}-{i}.bak", i + 1
        files[bak] = current
        res["Backup"] = bak
    if "write" in _faults(model):  # the temporary file cannot be written: the original stays as it was
        res["Error"] = "There is not enough space on the disk."
        return res
    try:
        data = base64.b64decode(str(a.get("content", "")), validate=True)
    except ValueError:
        res["Error"] = "Invalid length for a Base-64 char array or string."
        return res
    if user is not None:
        if current is not None and res["Backup"]:   # Windows' copy keeps the source's last-write time
            user.wslconfig_backup = (res["Backup"].rsplit("\\", 1)[-1], current, user.wslconfig_mtime)
        model.write_wslconfig(user, data, _now(model))
    else:
        files[path] = data
    res["Written"] = True
    return res


# --- policy -------------------------------------------------------------------------------------


def _policy_read(model: Any, step: Step) -> dict[str, Any]:
    policy = model.state.wsl_policy
    return {"Values": {n: policy.get(n) for n in step.args.get("names", [])}, "Error": None}


def _policy_write(model: Any, step: Step) -> dict[str, Any]:
    policy = model.state.wsl_policy
    for name, value in dict(step.args.get("set") or {}).items():
        policy[str(name)] = int(value)
    for name in step.args.get("remove") or []:
        policy.pop(str(name), None)
    return {"Written": True, "Error": None}


# --- restarts (scheduled task in the user's context) --------------------------------------------


def _wsl_state(model: Any, step: Step) -> dict[str, Any]:
    user = _user_by_account(model, str(step.args.get("user", "")))
    if user is None:
        return {"Running": False, "StartUtc": None, "ConfigWriteUtc": None, "LoggedOn": False, "Error": None}
    return {"Running": user.vm_started is not None, "StartUtc": _ts(user.vm_started),
            "ConfigWriteUtc": _ts(user.wslconfig_mtime) if user.wslconfig is not None else None,
            "LoggedOn": bool(user.logged_on), "Error": None}


def _docker_state(model: Any, step: Step) -> dict[str, Any]:
    user = _user_by_account(model, str(step.args.get("user", "")))
    dd = model.state.docker
    running = user is not None and dd is not None and (dd.owner or "").lower() == user.name.lower()
    return {"Running": running, "StartUtc": _ts(dd.started) if running else None,
            "ConfigWriteUtc": _ts(user.wslconfig_mtime) if user is not None and user.wslconfig is not None else None,
            "LoggedOn": bool(user is not None and user.logged_on), "Error": None}


def _task_reply(model: Any, step: Step, what: str) -> tuple[Any, dict[str, Any]]:
    user = _user_by_account(model, str(step.args.get("user", "")))
    res: dict[str, Any] = {"Ran": False, "TaskName": step.args.get("task"), "TaskResult": None, "TaskRemoved": True,
                           "Error": None}
    if user is None or not user.logged_on:
        res["Error"] = f"No mapping between account names and security IDs was done. ({step.args.get('user')})" \
            if user is None else "The user is not logged on interactively; the task did not start."
        return None, res
    res.update(Ran=True, TaskResult=0)
    getattr(model, "actions", []).append(f"{what} as {user.account} via task {step.args.get('task')}; task removed")
    return user, res


def _wsl_run(model: Any, step: Step) -> dict[str, Any]:
    user, res = _task_reply(model, step, "wsl --shutdown")
    if user is not None:
        model.shutdown_vm(user)
    return res


def _docker_run(model: Any, step: Step) -> dict[str, Any]:
    dd = model.state.docker
    execute, arguments = str(step.args.get("execute", "")), str(step.args.get("arguments", ""))
    cli = execute.lower().endswith("docker.exe") and arguments.strip() == "desktop restart"
    quit_start = execute.lower() == "powershell.exe" and "-EncodedCommand" in arguments and \
        "Start-Process" in base64.b64decode(arguments.rsplit(" ", 1)[-1]).decode("utf-16-le", "replace")
    if not (cli or quit_start):
        return {"Ran": True, "TaskName": step.args.get("task"), "TaskResult": 1, "TaskRemoved": True,
                "Error": f"auditor lab: not a Docker Desktop restart: {execute} {arguments[:60]}"}
    if cli and dd is not None and tuple(int(x) for x in dd.version.split(".")[:2]) < (4, 37):
        # docker.exe of Docker Desktop < 4.37: "docker: 'desktop' is not a docker command." -> exit code 1
        return {"Ran": True, "TaskName": step.args.get("task"), "TaskResult": 1, "TaskRemoved": True, "Error": None}
    user, res = _task_reply(model, step, "docker desktop restart" if cli else "quit and start Docker Desktop")
    if user is not None and dd is not None:
        dd.owner, dd.started = user.name, _now(model)
        if dd.backend == "wsl2":  # Docker Desktop's engine distro starts the user's VM (if it is stopped)
            model.start_vm(user, dd.started)
    return res


# --- commands -----------------------------------------------------------------------------------


def _exists(model: Any, step: Step) -> dict[str, Any]:
    path = str(step.args.get("path", ""))
    if hasattr(model.state, "users"):
        return {"Exists": _read_bytes(model, path) is not None}
    return {"Exists": any(k == path for k in _files(model))}


def _command(model: Any, step: Step) -> Any:
    if hasattr(model, "run_statements"):
        return model.run_statements(step.body)
    return model.run_command(step.body)


_HANDLERS = {
    "wslconfig.read": _wslconfig_read,
    "wslconfig.write": _wslconfig_write,
    "wsl_policy.read": _policy_read,
    "wsl_policy.write": _policy_write,
    "wsl_restart.state": _wsl_state,
    "wsl_restart.run": _wsl_run,
    "docker_desktop_restart.state": _docker_state,
    "docker_desktop_restart.run": _docker_run,
    "path.exists": _exists,
    "command.run": _command,
    "shell.run": _command,
    "powershell.run": _command,
}
