"""Executable inventory scripts: ``SCRIPT --list`` (and ``--host NAME`` when there is no ``_meta``).

The JSON protocol is ansible-core's: top-level keys are groups, each a list of hosts or a mapping
with ``hosts`` (list), ``vars`` and ``children``; ``_meta.hostvars`` carries every host's variables.
The script's output is untrusted: bounded in size and time, decoded strictly as UTF-8.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from auditor.errors import BadInputError, Location
from auditor.inventory.datafile import parse_json
from auditor.inventory.model import Inventory, InventoryStructureError
from auditor.inventory.vault import VaultSecret

MAX_OUTPUT = 64 * 1024 * 1024
TIMEOUT = 120.0


def _run(path: str, args: list[str]) -> str:
    try:
        proc = subprocess.run([path, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BadInputError(f"inventory script timed out after {TIMEOUT:.0f}s ({' '.join(args)})", Location(path)) from None
    except OSError as exc:
        raise BadInputError(f"cannot run inventory script: {exc.strerror or exc}", Location(path)) from None
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        detail = f": {last[0][:200]}" if last[0] else ""
        raise BadInputError(f"inventory script {' '.join(args)} exited with code {proc.returncode}{detail}",
                            Location(path)) from None
    if len(proc.stdout) > MAX_OUTPUT:
        raise BadInputError(f"inventory script printed more than {MAX_OUTPUT} bytes", Location(path))
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"inventory script {' '.join(args)} printed bytes that are not UTF-8", Location(path)) from None


def _json(text: str, path: str, what: str, secrets: tuple[VaultSecret, ...]) -> Any:
    try:
        return parse_json(text, secrets)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{what} is not valid JSON: {exc.msg} (output line {exc.lineno})", Location(path)) from None
    except (ValueError, RecursionError):
        raise BadInputError(f"{what} is not valid JSON", Location(path)) from None


def parse_script(path: str, inv: Inventory, secrets: tuple[VaultSecret, ...] = ()) -> None:
    data = _json(_run(path, ["--list"]), path, "inventory script --list output", secrets)
    if not isinstance(data, dict):
        raise BadInputError("inventory script --list output must be a JSON object of groups", Location(path))
    meta = data.get("_meta")
    if meta is not None and not isinstance(meta, dict):
        raise BadInputError("'_meta' in the script output must be an object", Location(path))
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    if meta is not None and not isinstance(hostvars, dict):
        raise BadInputError("'_meta.hostvars' in the script output must be an object", Location(path))
    seen: list[str] = []
    try:
        for group, body in data.items():
            if group != "_meta":
                _group(inv, path, group, body, seen)
        for host in dict.fromkeys(seen):
            if hostvars is None:
                text = _run(path, ["--host", host])
                got = _json(text, path, f"inventory script --host {host} output", secrets) if text.strip() else {}
            else:
                got = hostvars.get(host, {})
            if not isinstance(got, dict):
                raise BadInputError(f"variables for host {host!r} must be a JSON object", Location(path))
            for key, value in got.items():
                inv.set_variable(host, key, value, group=False)
    except InventoryStructureError as exc:
        raise BadInputError(str(exc), Location(path)) from None


def _group(inv: Inventory, path: str, name: str, body: Any, seen: list[str]) -> None:
    inv.add_group(name)
    if not isinstance(body, dict):
        body = {"hosts": body}
    elif not any(k in body for k in ("hosts", "vars", "children")):
        body = {"hosts": [name], "vars": body}  # legacy: a bare mapping is one host's variables
    if "hosts" in body:
        if not isinstance(body["hosts"], list):
            raise BadInputError(f"'{name}.hosts' must be a list", Location(path))
        for host in body["hosts"]:
            if not isinstance(host, str):
                raise BadInputError(f"host names in '{name}.hosts' must be strings, got {host!r}", Location(path))
            seen.append(host)
            inv.add_host(host, name)
    if "vars" in body:
        if not isinstance(body["vars"], dict):
            raise BadInputError(f"'{name}.vars' must be an object", Location(path))
        for key, value in body["vars"].items():
            inv.set_variable(name, key, value, group=True)
    for child in body.get("children") or []:
        if not isinstance(child, str):
            raise BadInputError(f"child group names in '{name}.children' must be strings", Location(path))
        inv.add_group(child)
        inv.add_child(name, child)
