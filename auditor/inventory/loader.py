"""Inventory sources -> ``Inventory``. First cut: Ansible YAML inventories (all/children/hosts/vars).

Variable precedence (lowest first), as Ansible: all's vars, parent group vars, child group vars
(deeper wins; siblings by name order), host vars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from auditor.errors import BadInputError, Location
from auditor.inventory.model import Group, Host, Inventory


def load_inventory(sources: list[str]) -> Inventory:
    inv = Inventory(groups={"all": Group("all"), "ungrouped": Group("ungrouped")})
    host_vars: dict[str, dict[str, Any]] = {}
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise BadInputError("inventory source not found", Location(source))
        inv.sources.append(str(path))
        _load_yaml(path, inv, host_vars)
    _finalize(inv, host_vars)
    return inv


def _load_yaml(path: Path, inv: Inventory, host_vars: dict[str, dict[str, Any]]) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = Location(str(path), mark.line + 1, mark.column + 1) if mark else Location(str(path))
        raise BadInputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", loc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read inventory: {exc}", Location(str(path))) from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise BadInputError("expected a mapping of group names at the top level", Location(str(path), 1))
    for name, body in data.items():
        _load_group(str(name), body, inv, host_vars, path, parent=None)


def _load_group(name, body, inv, host_vars, path, parent):
    group = inv.groups.setdefault(name, Group(name))
    if parent is not None and name not in inv.groups[parent].children and name != "all":
        inv.groups[parent].children.append(name)
    if body is None:
        return
    if not isinstance(body, dict):
        raise BadInputError(f"group {name!r}: expected a mapping with hosts/children/vars", Location(str(path)))
    for key in body:
        if key not in ("hosts", "children", "vars"):
            raise BadInputError(f"group {name!r}: unexpected key {key!r} (expected hosts, children or vars)", Location(str(path)))
    group.vars.update(body.get("vars") or {})
    for hname, hvars in (body.get("hosts") or {}).items():
        hname = str(hname)
        if hname not in group.hosts:
            group.hosts.append(hname)
        inv.hosts.setdefault(hname, Host(hname))
        host_vars.setdefault(hname, {}).update(hvars or {})
    for child, cbody in (body.get("children") or {}).items():
        _load_group(str(child), cbody, inv, host_vars, path, parent=name)


def _ancestors(inv: Inventory) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {g: set() for g in inv.groups}
    for g in inv.groups.values():
        for c in g.children:
            parents.setdefault(c, set()).add(g.name)
    return parents


def _finalize(inv: Inventory, host_vars: dict[str, dict[str, Any]]) -> None:
    parents = _ancestors(inv)

    def depth(g: str, seen=()) -> int:
        ps = [p for p in parents.get(g, ()) if p not in seen]
        return 0 if not ps else 1 + max(depth(p, seen + (g,)) for p in ps)

    for host in inv.hosts.values():
        direct = [g.name for g in inv.groups.values() if host.name in g.hosts]
        if not direct:
            inv.groups["ungrouped"].hosts.append(host.name)
            direct = ["ungrouped"]
        closure: set[str] = set()
        stack = list(direct)
        while stack:
            g = stack.pop()
            if g in closure:
                continue
            closure.add(g)
            stack.extend(parents.get(g, ()))
        closure.add("all")
        merged: dict[str, Any] = {}
        for g in sorted(closure, key=lambda n: (depth(n), n)):
            merged.update(inv.groups[g].vars)
        merged.update(host_vars.get(host.name, {}))
        host.vars = merged
        host.groups = sorted(closure - {"all"})
