"""What ``auditor inventory --list / --host / --graph`` print: ansible-inventory's formats.

``!vault`` values are printed as ansible prints them, ``{"__ansible_vault": "<ciphertext>"}``:
never decrypted. Values read from a fully vault-encrypted vars file are plain data once the file
is opened, and ansible-inventory prints them; so do we (the user asked, with the password).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from auditor.inventory.datafile import UnsafeStr
from auditor.inventory.model import Inventory
from auditor.inventory.vault import VaultedValue


def _jsonable(value: Any, *, mark_unsafe: bool) -> Any:
    if isinstance(value, VaultedValue):
        return {"__ansible_vault": value.ciphertext}
    if isinstance(value, UnsafeStr):
        return {"__ansible_unsafe": str(value)} if mark_unsafe else str(value)
    if isinstance(value, dict):
        return {_key(k): _jsonable(v, mark_unsafe=mark_unsafe) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, mark_unsafe=mark_unsafe) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _key(key: Any) -> Any:
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=4)


def list_inventory(inv: Inventory, hosts: list[str] | None = None) -> dict[str, Any]:
    """``--list``: groups with their direct hosts and children, and ``_meta.hostvars``.

    ``hosts`` (after ``--limit``) restricts which hosts appear; groups left empty are omitted.
    """
    available = set(inv.group_hosts("all") if hosts is None else hosts)
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        if name != "all":
            members = [h for h in group.hosts if h in available]
            if members:
                entry["hosts"] = members
        if group.children:
            entry["children"] = list(group.children)
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)
        if entry:
            result[name] = entry

    visit("all")
    ordered = [h for h in inv.group_hosts("all") if h in available]
    hostvars = {h: _jsonable(inv.hosts[h].vars, mark_unsafe=True) for h in ordered if inv.hosts[h].vars}
    result["_meta"] = {"hostvars": hostvars, "profile": "inventory_legacy"}
    return result


def host_vars(inv: Inventory, name: str) -> dict[str, Any]:
    """``--host NAME``: the host's effective variables."""
    return _jsonable(inv.hosts[name].vars, mark_unsafe=False)


def graph(inv: Inventory, start: str = "all") -> str:
    """``--graph [GROUP]``: the group tree, children before hosts, as ansible-inventory draws it."""
    lines: list[str] = []

    def draw(name: str, depth: int) -> None:
        lines.append(_indent(f"@{name}:", depth))
        for child in inv.groups[name].children:
            draw(child, depth + 1)
        if name != "all":
            lines.extend(_indent(h, depth + 1) for h in inv.groups[name].hosts)

    draw(start, 0)
    return "\n".join(lines)


def _indent(text: str, depth: int) -> str:
    return "  |" * depth + "--" + text if depth else text
