"""INI inventory sources, parsed the way ansible-core's ``ini`` plugin parses them.

Lines before the first section are hosts of 'ungrouped'. ``[g]`` lists hosts (``name[:port]``,
ranges, then ``key=value`` pairs split like a shell would), ``[g:vars]`` one ``key=value`` per line,
``[g:children]`` group names. Values are typed with Python literal syntax (``1`` is an int,
``True`` a bool, ``'1'`` a string); anything that is not a literal stays a string, comments and all.
A ``[g:vars]`` or ``[g:children]`` naming a group never declared is an error, as in ansible.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from auditor.errors import BadInputError, Location
from auditor.inventory.datafile import UnsafeStr
from auditor.inventory.hostnames import HostRangeError, expand_host_pattern
from auditor.inventory.model import Inventory, InventoryStructureError

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def parse_value(text: str) -> Any:
    """An INI value: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = text
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {_coerce(k): _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):  # ansible drops template trust here: it prints as unsafe
        return UnsafeStr(value.decode("utf-8", errors="surrogateescape"))
    return value


class _Parser:
    def __init__(self, inv: Inventory, path: str):
        self.inv = inv
        self.path = path
        self.lineno = 0
        # groups referenced before being declared: name -> (line, state, parents)
        self.pending: dict[str, dict[str, Any]] = {}

    def fail(self, message: str, line: int | None = None) -> BadInputError:
        return BadInputError(message, Location(self.path, line or self.lineno))

    def parse(self, lines: list[str]) -> None:
        group, state = "ungrouped", "hosts"
        for self.lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            try:
                m = _SECTION.match(line)
                if m:
                    group, state = self._section(m)
                elif line.startswith("[") and line.endswith("]"):
                    raise self.fail(f"invalid section header {line!r}: expected [group], [group:vars] "
                                    "or [group:children] with no spaces")
                elif state == "hosts":
                    self._hosts_line(line, group)
                elif state == "vars":
                    self._vars_line(line, group)
                else:
                    self._child_line(line, group)
            except InventoryStructureError as exc:
                raise self.fail(str(exc)) from None
        for name, decl in self.pending.items():
            if decl["state"] == "vars":
                raise self.fail(f"section [{name}:vars] is for group {name!r}, which is never defined", decl["line"])
            raise self.fail(f"section [{decl['parents'][-1]}:children] includes undefined group {name!r}", decl["line"])

    def _section(self, m: re.Match[str]) -> tuple[str, str]:
        name, state = m.group(1), m.group(2) or "hosts"
        if state not in ("hosts", "children", "vars"):
            raise self.fail(f"section [{name}:{state}] has unknown type {state!r} (expected vars or children)")
        if name not in self.inv.groups:
            # [g:vars] alone does not declare g; remember it and check at the end
            if state == "vars" and name not in self.pending:
                self.pending[name] = {"line": self.lineno, "state": state}
            self.inv.add_group(name)
        if name in self.pending and state != "vars":
            if self.pending[name]["state"] == "children":
                self._resolve_pending(name)
            else:
                del self.pending[name]
        return name, state

    def _resolve_pending(self, name: str) -> None:
        for parent in self.pending[name]["parents"]:
            self.inv.add_child(parent, name)
            if parent in self.pending and self.pending[parent]["state"] == "children":
                self._resolve_pending(parent)
        del self.pending[name]

    def _hosts_line(self, line: str, group: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.fail(f"cannot split host line ({exc}): check the quoting") from None
        if not tokens:
            return
        entry = tokens[0]
        try:
            names, port = expand_host_pattern(entry)
        except HostRangeError as exc:
            raise self.fail(f"host {entry!r}: {exc}") from None
        if entry.endswith(":") and port is None:
            raise self.fail(f"host {entry!r} ends in ':' with no port number after it")
        if any(n.strip() == "---" for n in names):
            raise self.fail("found '---': this looks like a YAML file, not an INI inventory")
        variables: dict[str, Any] = {}
        for token in tokens[1:]:
            if "=" not in token:
                raise self.fail(f"expected key=value after the host name, got {token!r}")
            key, value = token.split("=", 1)
            variables[key] = parse_value(value)
        for name in names:
            self.inv.add_host(name, group, port)
            for key, value in variables.items():
                self.inv.set_variable(name, key, value, group=False)

    def _vars_line(self, line: str, group: str) -> None:
        if "=" not in line:
            raise self.fail(f"expected key=value in [{group}:vars], got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        self.inv.set_variable(group, key, parse_value(value), group=True)

    def _child_line(self, line: str, group: str) -> None:
        m = _GROUP_NAME.match(line)
        if not m:
            raise self.fail(f"expected a group name in [{group}:children], got {line!r}")
        child = m.group(1)
        if child in self.inv.groups:
            self.inv.add_child(group, child)
        elif child in self.pending:
            self.pending[child].setdefault("parents", []).append(group)
        else:
            self.pending[child] = {"line": self.lineno, "state": "children", "parents": [group]}


def parse_ini(text: str, path: str, inv: Inventory) -> None:
    """Add the hosts, groups and variables of one INI inventory to ``inv``."""
    _Parser(inv, path).parse(text.splitlines())
