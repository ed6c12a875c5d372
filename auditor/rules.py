"""Registries for the domain hooks a play may name: fact derivers and verdict rules.

The runner calls them by name and knows nothing of what they mean. Domain packages
(``auditor.mirrored``) register on import; lookups import ``PLUGIN_MODULES`` first.

- A deriver ``(facts, vars) -> dict`` computes extra facts from parsed ones; the dict is merged
  into ``facts``. It must be pure and must not raise on odd input (return what it can).
- A verdict rule ``(facts, checks, vars) -> Verdict | None`` turns facts and check results into the
  host's verdict for the play.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from auditor.parsers.registry import load_plugin_modules
from auditor.results import CheckResult, Verdict, VerdictInfo

DeriveFn = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
VerdictFn = Callable[[dict[str, Any], list[CheckResult], dict[str, Any]], "Verdict | None"]

_DERIVERS: dict[str, DeriveFn] = {}
_VERDICTS: dict[str, VerdictFn] = {}
_CATALOGUE: dict[str, VerdictInfo] = {}
PLUGIN_MODULES = ["auditor.mirrored"]
_loaded = False


def register_deriver(name: str) -> Callable[[DeriveFn], DeriveFn]:
    def deco(fn: DeriveFn) -> DeriveFn:
        _DERIVERS[name] = fn
        return fn

    return deco


def register_verdict(name: str) -> Callable[[VerdictFn], VerdictFn]:
    def deco(fn: VerdictFn) -> VerdictFn:
        _VERDICTS[name] = fn
        return fn

    return deco


def register_verdict_catalogue(entries: dict[str, VerdictInfo]) -> None:
    """A domain says what its verdict names mean (label, tone, rank, meaning, needs action)."""
    _CATALOGUE.update(entries)


def verdict_catalogue() -> dict[str, VerdictInfo]:
    """Every registered verdict's meaning; the runner records the entries a run uses in its result."""
    _load_plugins()
    return dict(_CATALOGUE)


def catalogue_of(names: Iterable[str]) -> dict[str, VerdictInfo]:
    """The catalogue entries of the verdicts a run used: what the run records and its reports read."""
    _load_plugins()
    return {name: _CATALOGUE[name] for name in sorted(names) if name in _CATALOGUE}


def _load_plugins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        load_plugin_modules(PLUGIN_MODULES)


def get_deriver(name: str) -> DeriveFn | None:
    _load_plugins()
    return _DERIVERS.get(name)


def get_verdict_rule(name: str) -> VerdictFn | None:
    _load_plugins()
    return _VERDICTS.get(name)


def known_derivers() -> list[str]:
    _load_plugins()
    return sorted(_DERIVERS)


def known_verdict_rules() -> list[str]:
    _load_plugins()
    return sorted(_VERDICTS)
