"""Inventory model: hosts and groups with Ansible semantics. Loaders fill it; patterns select from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)  # child group names, in order seen
    hosts: list[str] = field(default_factory=list)     # direct member host names, in order seen


@dataclass
class Host:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)    # effective variables after precedence
    groups: list[str] = field(default_factory=list)      # every group the host is in (not 'all')

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host") or self.name)


@dataclass
class Inventory:
    hosts: dict[str, Host] = field(default_factory=dict)   # insertion order = inventory order
    groups: dict[str, Group] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def select(self, pattern: str | None) -> list[Host]:
        """Hosts matched by an Ansible host pattern, in inventory order."""
        from auditor.inventory.patterns import select_hosts

        return select_hosts(self, pattern or "all")
