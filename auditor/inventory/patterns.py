"""Ansible host patterns (first cut): all, *, names, groups, globs, a:b / a,b unions, :& and :!."""

from __future__ import annotations

import fnmatch
import re

from auditor.inventory.model import Host, Inventory


def _split(pattern: str) -> list[str]:
    if "," in pattern:
        return [p.strip() for p in pattern.split(",") if p.strip()]
    return [p for p in re.split(r":(?![^\[]*\])", pattern) if p]


def _match_one(inv: Inventory, term: str) -> list[str]:
    if term in ("all", "*"):
        return list(inv.hosts)
    if term in inv.groups:
        return [h.name for h in inv.hosts.values() if term in h.groups or (term == "all")]
    if term in inv.hosts:
        return [term]
    names = [h for h in inv.hosts if fnmatch.fnmatchcase(h, term)]
    for g in inv.groups:
        if fnmatch.fnmatchcase(g, term):
            names += [h.name for h in inv.hosts.values() if g in h.groups]
    return names


def select_hosts(inv: Inventory, pattern: str) -> list[Host]:
    include: list[str] = []
    intersect: list[set[str]] = []
    exclude: set[str] = set()
    for term in _split(pattern):
        if term.startswith("&"):
            intersect.append(set(_match_one(inv, term[1:])))
        elif term.startswith("!"):
            exclude.update(_match_one(inv, term[1:]))
        else:
            include += _match_one(inv, term)
    chosen = set(include)
    for s in intersect:
        chosen &= s
    chosen -= exclude
    return [h for name, h in inv.hosts.items() if name in chosen]
