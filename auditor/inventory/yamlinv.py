"""YAML inventory sources, read the way ansible-core's ``yaml`` plugin reads them.

Top-level keys are groups; a group is a mapping (or empty) with ``hosts``, ``children`` and
``vars``. A string where a mapping is expected means ``{string: None}``. Like ansible, unknown keys
and non-mapping group bodies are skipped with a warning rather than refused.
"""

from __future__ import annotations

from typing import Any

from auditor.errors import BadInputError, Location
from auditor.inventory.datafile import LineDict
from auditor.inventory.hostnames import HostRangeError, expand_host_pattern
from auditor.inventory.model import Inventory, InventoryStructureError

SECTIONS = ("vars", "children", "hosts")


class NotYamlInventory(Exception):
    """The data is not a YAML inventory (empty, not a mapping, or a plugin configuration)."""

    def __init__(self, message: str, plugin_config: bool = False):
        super().__init__(message)
        self.plugin_config = plugin_config


def _type_name(value: Any) -> str:
    names: dict[type, str] = {dict: "mapping", LineDict: "mapping", list: "list", str: "string"}
    return names.get(type(value), type(value).__name__)


class _Builder:
    def __init__(self, inv: Inventory, path: str):
        self.inv = inv
        self.path = path

    def at(self, container: Any, key: Any = None) -> Location:
        line = container.line_of(key) if isinstance(container, LineDict) else None
        return Location(self.path, line)

    def group(self, name: Any, body: Any, container: Any) -> Any:
        if body is not None and not isinstance(body, dict):
            self.inv.warnings.append(f"{self.at(container, name)}: skipping {name!r}: not a valid group definition")
            return name
        if not isinstance(name, str) or not name:
            raise BadInputError(f"group name must be a non-empty string, got {name!r}", self.at(container, name))
        self.inv.add_group(name)
        if body is None:
            return name
        for section in SECTIONS:
            if isinstance(body.get(section), str):
                body[section] = {body[section]: None}
            if section in body and not isinstance(body[section], (dict, type(None))):
                raise BadInputError(
                    f"group {name!r}: {section!r} must be a mapping, found a {_type_name(body[section])}",
                    self.at(body, section))
        for key, value in body.items():
            if not isinstance(value, (dict, type(None))):
                self.inv.warnings.append(f"{self.at(body, key)}: skipping key {key!r} in group {name!r}: not a mapping")
            elif value is None:
                continue
            elif key == "vars":
                for var, val in value.items():
                    self._set(name, var, val, value, group=True)
            elif key == "children":
                for child, child_body in value.items():
                    child = self.group(child, child_body, value)
                    self._add_child(name, child, value)
            elif key == "hosts":
                for entry, host_vars in value.items():
                    self._hosts(name, entry, host_vars, value)
            else:
                self.inv.warnings.append(f"{self.at(body, key)}: skipping unexpected key {key!r} in group {name!r} "
                                         "(only vars, children and hosts are valid)")
        return name

    def _add_child(self, parent: str, child: Any, container: Any) -> None:
        try:
            if child in self.inv.groups:
                self.inv.add_child(parent, child)
            elif child in self.inv.hosts:  # ansible's add_child accepts a host name too
                self.inv.add_host(child, parent)
            else:
                raise BadInputError(f"child {child!r} of group {parent!r} is not a known group or host",
                                    self.at(container, child))
        except InventoryStructureError as exc:
            raise BadInputError(str(exc), self.at(container, child)) from None

    def _hosts(self, group: str, entry: Any, host_vars: Any, container: Any) -> None:
        if not isinstance(entry, str):
            raise BadInputError(f"host {entry!r} must be a string: quote numbers used as host names",
                                self.at(container, entry))
        try:
            names, port = expand_host_pattern(entry)
        except HostRangeError as exc:
            raise BadInputError(f"host {entry!r}: {exc}", self.at(container, entry)) from None
        host_vars = host_vars or {}
        if not isinstance(host_vars, dict):
            raise BadInputError(f"host {entry!r}: variables must be a mapping, found a {_type_name(host_vars)}",
                                self.at(container, entry))
        for name in names:
            self.inv.add_host(name, group, port)
            for key, value in host_vars.items():
                self._set(name, key, value, host_vars, group=False)

    def _set(self, entity: str, key: Any, value: Any, container: Any, *, group: bool) -> None:
        try:
            self.inv.set_variable(entity, key, value, group=group)
        except InventoryStructureError as exc:
            raise BadInputError(str(exc), self.at(container, key)) from None


def parse_yaml_inventory(data: Any, path: str, inv: Inventory) -> None:
    """Add a loaded YAML inventory to ``inv``; ``NotYamlInventory`` if it is not one."""
    if not data:
        raise NotYamlInventory("the YAML file is empty")
    if not isinstance(data, dict):
        raise NotYamlInventory(f"a YAML inventory must be a mapping of groups, found a {_type_name(data)}")
    if data.get("plugin"):
        raise NotYamlInventory("this is an inventory plugin configuration (plugin: ...), which auditor does not run",
                               plugin_config=True)
    builder = _Builder(inv, path)
    for name, body in data.items():
        builder.group(name, body, data)
