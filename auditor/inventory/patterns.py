"""Ansible host patterns: the play's ``hosts:``, ``--limit`` and ``--list-hosts`` all select with these.

Grammar (ansible-core's): terms separated by ``,`` (or ``:`` when there is no comma and the whole
pattern is not one address); ``&term`` intersects, ``!term`` excludes, applied after every plain
term whatever their order. A term is ``all``/``*``, a group or host name, a shell glob, or ``~regex``
(matched against group and host names from the start); a non-regex term may end in a subscript
``[i]``, ``[-i]``, ``[a:b]`` or ``[a:]`` (inclusive) picking from the hosts it matched. A group
match brings every host in the group and its descendants.
"""

from __future__ import annotations

import fnmatch
import os
import re

from auditor.errors import BadInputError, Location, UsageError
from auditor.inventory.hostnames import parse_address
from auditor.inventory.model import Host, Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


class PatternError(UsageError):
    """A host pattern that cannot be evaluated (bad regex, subscript out of range)."""


def split_pattern(pattern: str) -> list[str]:
    """``'a,b[1], c[2:3] , d'`` -> ``['a', 'b[1]', 'c[2:3]', 'd']``; ``a:b:!c`` likewise."""
    if "," in pattern:
        parts = pattern.split(",")
    elif parse_address(pattern) is not None:
        parts = [pattern]  # one host name or address (maybe host:port, an IPv6 address, a range)
    else:
        parts = _COLON_TERMS.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _order(terms: list[str]) -> list[str]:
    plain = [t for t in terms if t[0] not in "!&"] or ["all"]
    return plain + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]


def _regex(term: str) -> re.Pattern[str]:
    try:
        return re.compile(term[1:]) if term.startswith("~") else re.compile(fnmatch.translate(term))
    except re.error as exc:
        raise PatternError(f"invalid host pattern {term!r}: {exc}") from None


def _enumerate(inv: Inventory, term: str) -> list[str]:
    regex = _regex(term)
    names: list[str] = []
    groups = [g for g in inv.group_names() if regex.match(g)]
    for g in groups:
        names += inv.group_hosts(g)
    if not groups or term[0] == "~" or any(c in term for c in ".?*["):
        names += [h for h in inv.hosts if regex.match(h)]
    return names


def _subscript(term: str) -> tuple[str, tuple[int, int | None] | None]:
    if term.startswith("~"):
        return term, None
    m = _SUBSCRIPT.match(term)
    if not m:
        return term, None
    base, idx, start, _sep, end = m.groups()
    if idx:
        return base, (int(idx), None)
    return base, (int(start), int(end) if end else -1)


def _match_term(inv: Inventory, term: str, cache: dict[str, list[str]]) -> list[str]:
    if term[0] in "&!":
        term = term[1:]
    if term not in cache:
        expr, sub = _subscript(term)
        names = _enumerate(inv, expr)
        if names and sub:
            start, end = sub
            try:
                if end is None:
                    names = [names[start]]
                else:
                    names = names[start:(len(names) - 1 if end == -1 else end) + 1]
            except IndexError:
                raise PatternError(f"no hosts matched the subscripted pattern {term!r}") from None
        cache[term] = names
    return cache[term]


def evaluate(inv: Inventory, terms: list[str]) -> list[str]:
    """Host names for already-split pattern terms, in ansible's order, each once."""
    cache: dict[str, list[str]] = {}
    chosen: list[str] = []
    for term in _order(terms):
        if term in inv.hosts:
            chosen.append(term)
            continue
        matched = _match_term(inv, term, cache)
        if term[0] == "!":
            drop = set(matched)
            chosen = [h for h in chosen if h not in drop]
        elif term[0] == "&":
            keep = set(matched)
            chosen = [h for h in chosen if h in keep]
        else:
            have = set(chosen)
            chosen += [h for h in matched if h not in have]
    return list(dict.fromkeys(chosen))


def select_hosts(inv: Inventory, pattern: str | list[str]) -> list[Host]:
    """Hosts selected by an Ansible host pattern (a string, or a list of them)."""
    items = pattern if isinstance(pattern, list) else [pattern]
    terms = [t for item in items for t in split_pattern(item)]
    return [inv.hosts[name] for name in evaluate(inv, terms)]


def limit_terms(limit: str) -> list[str]:
    """``--limit`` value -> pattern terms; ``@file`` reads one pattern per line from a file."""
    terms: list[str] = []
    for part in split_pattern(limit):
        if part.startswith("@"):
            path = part[1:]
            if not os.path.exists(path):
                raise BadInputError("limit file not found", Location(path))
            if not os.path.isfile(path):
                raise BadInputError("a limit starting with '@' must name a file, not a folder", Location(path))
            with open(path, encoding="utf-8", errors="replace") as fh:
                terms += [line.strip() for line in fh.read().split("\n")]
        else:
            terms.append(part)
    return [t for t in terms if t]


def limit_hosts(inventory: Inventory, hosts: list[Host], limit: str | None) -> list[Host]:
    """``hosts`` (already selected by a play's pattern) narrowed by ``--limit``, order kept."""
    if not limit:
        return list(hosts)
    allowed = set(evaluate(inventory, limit_terms(limit)))
    return [h for h in hosts if h.name in allowed]
