"""Registries for the domain hooks a play may name: fact derivers and verdict rules.

The runner calls them by name and knows nothing of what they mean. Domain packages
(``auditor.mirrored``) register on import; the first lookup imports every plugin (``auditor.plugins``).

- A deriver ``(facts, vars) -> dict`` computes extra facts from parsed ones; the dict is merged
  into ``facts``. It must be pure and must not raise on odd input (return what it can).
- A verdict rule ``(facts, checks, vars) -> Verdict | None`` turns facts and check results into the
  host's verdict for the play.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from auditor.plugins import Registry, load_plugins
from auditor.results import CheckResult, Verdict, VerdictInfo

DeriveFn = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
VerdictFn = Callable[[dict[str, Any], list[CheckResult], dict[str, Any]], "Verdict | None"]

DERIVERS: Registry[DeriveFn] = Registry("deriver")
VERDICT_RULES: Registry[VerdictFn] = Registry("verdict rule")
_CATALOGUE: dict[str, VerdictInfo] = {}


def register_deriver(name: str) -> Callable[[DeriveFn], DeriveFn]:
    return DERIVERS.register(name)


def register_verdict(name: str) -> Callable[[VerdictFn], VerdictFn]:
    return VERDICT_RULES.register(name)


def register_verdict_catalogue(entries: dict[str, VerdictInfo]) -> None:
    """A domain says what its verdict names mean (label, tone, rank, meaning, needs action)."""
    _CATALOGUE.update(entries)


def verdict_catalogue() -> dict[str, VerdictInfo]:
    """Every registered verdict's meaning; the runner records the entries a run uses in its result."""
    load_plugins()
    return dict(_CATALOGUE)


def catalogue_of(names: Iterable[str]) -> dict[str, VerdictInfo]:
    """The catalogue entries of the verdicts a run used: what the run records and its reports read."""
    load_plugins()
    return {name: _CATALOGUE[name] for name in sorted(names) if name in _CATALOGUE}


def get_deriver(name: str) -> DeriveFn | None:
    return DERIVERS.get(name)


def get_verdict_rule(name: str) -> VerdictFn | None:
    return VERDICT_RULES.get(name)


def known_derivers() -> list[str]:
    return DERIVERS.names()


def known_verdict_rules() -> list[str]:
    return VERDICT_RULES.names()
