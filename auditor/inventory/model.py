"""Inventory model: hosts and groups with Ansible semantics. Loaders fill it; patterns select from it.

Structure follows ansible-core's ``InventoryData``: groups and hosts keep insertion order, a group
knows its direct hosts and child groups in the order they were added, and a group's ``depth`` is
the length of the longest parent chain above it (used to order group variables: deeper wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPECIAL_GROUPS = ("all", "ungrouped")


class InventoryStructureError(ValueError):
    """A group/host relation ansible-core also refuses (loops, unknown names)."""


@dataclass
class Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)  # child group names, in order seen
    hosts: list[str] = field(default_factory=list)     # direct member host names, in order seen
    parents: list[str] = field(default_factory=list)
    depth: int = 0
    priority: int = 1                                  # ansible_group_priority
    _members: set[str] = field(default_factory=set, repr=False, compare=False)  # fast "in hosts"


@dataclass
class Host:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)    # effective variables after precedence
    groups: list[str] = field(default_factory=list)      # every group the host is in (not 'all'), sorted
    own_vars: dict[str, Any] = field(default_factory=dict, repr=False)  # set on the host by inventory sources
    # What ``vars`` starts from: the variables of the host's groups (and group_vars files), one dict shared by
    # every host with the same groups (set by the loader, None for hand-built hosts; never to be mutated).
    # ``vars`` is this dict, in its order, updated with the host's own variables. Planning uses it to do
    # the work that depends only on group variables once per group set (auditor/plan.py).
    inherited: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host") or self.name)


@dataclass
class Inventory:
    hosts: dict[str, Host] = field(default_factory=dict)   # insertion order = inventory order
    groups: dict[str, Group] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)       # what ansible-core would warn about

    def __post_init__(self) -> None:
        for name in SPECIAL_GROUPS:
            self.groups.setdefault(name, Group(name))
        if "ungrouped" not in self.groups["all"].children:
            self.add_child("all", "ungrouped")

    def select(self, pattern: str | None) -> list[Host]:
        """Hosts matched by an Ansible host pattern, in inventory order."""
        from auditor.inventory.patterns import select_hosts

        return select_hosts(self, pattern or "all")

    # --- building (used by the loaders) -------------------------------------------------------

    def add_group(self, name: str) -> Group:
        if not name:
            raise InventoryStructureError("empty group name")
        return self.groups.setdefault(name, Group(name))

    def add_host(self, name: str, group: str | None = None, port: int | None = None) -> Host:
        if not name:
            raise InventoryStructureError("empty host name")
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = Host(name)
            if port is not None:  # a port only counts where the host first appears, as in ansible
                host.own_vars["ansible_port"] = int(port)
        if group is not None:
            g = self.groups[group]
            if len(g._members) != len(g.hosts):  # hosts edited by hand: resync
                g._members = set(g.hosts)
            if name not in g._members:
                g.hosts.append(name)
                g._members.add(name)
        return host

    def add_child(self, parent: str, child: str) -> None:
        """Make group ``child`` a child of group ``parent`` (refusing loops)."""
        if parent == child:
            raise InventoryStructureError(f"group {child!r} cannot be a child of itself")
        pg, cg = self.groups[parent], self.groups[child]
        if child in pg.children:
            return
        if child in self.ancestors(parent):
            raise InventoryStructureError(
                f"adding group {child!r} as child to {parent!r} creates a recursive dependency loop")
        pg.children.append(child)
        if parent not in cg.parents:
            cg.parents.append(parent)
        self._deepen(child, pg.depth + 1)

    def _deepen(self, name: str, depth: int) -> None:
        group = self.groups[name]
        if depth <= group.depth:
            return
        group.depth = depth
        for child in group.children:
            self._deepen(child, depth + 1)

    def set_variable(self, entity: str, key: str, value: Any, *, group: bool) -> None:
        if group:
            if key == "ansible_group_priority":
                try:
                    self.groups[entity].priority = int(value)
                except (TypeError, ValueError):
                    raise InventoryStructureError(f"ansible_group_priority must be an integer, got {value!r}") from None
            else:
                self.groups[entity].vars[key] = value
        else:
            self.hosts[entity].own_vars[key] = value

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.groups[name].parents)
        while stack:
            g = stack.pop()
            if g not in seen:
                seen.add(g)
                stack.extend(self.groups[g].parents)
        return seen

    def descendants(self, name: str) -> list[str]:
        """``name`` and every group below it, level by level, each once."""
        ordered, level, seen = [name], [name], {name}
        while level:
            nxt: list[str] = []
            for g in level:
                for c in self.groups[g].children:
                    if c not in seen:
                        seen.add(c)
                        nxt.append(c)
            ordered += nxt
            level = nxt
        return ordered

    def group_hosts(self, name: str) -> list[str]:
        """Every host in group ``name`` or below it, in ansible's order."""
        if name not in self.groups:  # a hand-built inventory may only name groups on its hosts
            return [h.name for h in self.hosts.values() if name in h.groups]
        out: list[str] = []
        seen: set[str] = set()
        for g in self.descendants(name):
            for h in self.groups[g].hosts:
                if h not in seen:
                    seen.add(h)
                    out.append(h)
        if name == "all":  # every host is in 'all', even one a hand-built inventory put in no group
            out += [h for h in self.hosts if h not in seen]
        return out

    def group_names(self) -> list[str]:
        """Every group name: the structure's, then any named only on hand-built hosts."""
        extra = {g for h in self.hosts.values() for g in h.groups if g not in self.groups}
        return list(self.groups) + sorted(extra)

    def _closures(self) -> dict[str, set[str]]:
        """Group closure of every host, computed in one pass (inventories run to thousands of hosts)."""
        ancestors = {name: self.ancestors(name) | {name} for name in self.groups}
        out: dict[str, set[str]] = {name: set() for name in self.hosts}
        for name, group in self.groups.items():
            for h in group.hosts:
                out[h] |= ancestors[name]
        return out

    def reconcile(self) -> None:
        """Ansible's post-parse rules: top-level groups go under 'all'; hosts with no group are
        'ungrouped'; a host in some real group leaves 'ungrouped'."""
        for name in list(self.groups):
            if name != "all" and not self.groups[name].parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        closures = self._closures()
        removed = set()
        for name in self.hosts:
            mine = closures[name]
            if "ungrouped" in mine:
                if mine - {"all", "ungrouped"}:
                    removed.add(name)
            elif mine <= {"all"}:
                ungrouped.hosts.append(name)
        ungrouped.hosts = [h for h in ungrouped.hosts if h not in removed]
        ungrouped._members -= removed
        closures = self._closures()
        for name, host in self.hosts.items():
            host.groups = sorted(closures[name] - {"all"})
