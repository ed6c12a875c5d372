"""How bad a verdict is, for the headline verdict of a host and for drift (regressed / fixed).

The rank comes from one injectable function so the store and ``auditor diff`` never hard-code the domain's
verdict names: by default the registered verdict catalogue ranks them (the one every run records); a run's own
catalogue can be passed instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auditor.results import Verdict

#: Higher is worse. Unknown names get the catalogue's rank for an unknown verdict.
VerdictRank = Callable[[str], int]


def default_verdict_rank(name: str) -> int:
    """The registered catalogue's rank (``auditor.rules.verdict_catalogue``; unknown names rank as unknown)."""
    from auditor.outcomes import verdict_info
    from auditor.rules import verdict_catalogue

    return verdict_info(name, verdict_catalogue()).rank


def worst_verdict(verdicts: Iterable[Verdict], rank: VerdictRank = default_verdict_rank) -> Verdict | None:
    """The host's headline verdict: the worst of its plays' verdicts (the first of equals)."""
    worst: Verdict | None = None
    for verdict in verdicts:
        if worst is None or rank(verdict.name) > rank(worst.name):
            worst = verdict
    return worst
