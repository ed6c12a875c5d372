"""Every lab scenario's host model, answered collector by collector (no transport), gets its declared verdict
through the shipped playbooks. The real-transport end-to-end test lives with the lab; this one is the fast guard
that the collectors, parsers, derivers, checks and verdicts agree with the simulated hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.checks import evaluate_checks
from auditor.gather import selected_collectors
from auditor.lab.models.from_scenario import edge_model, windows_model
from auditor.lab.scenarios import library_paths, load_scenario
from auditor.parsers.registry import CollectorOutput, ParseError, get_parser
from auditor.playbook.loader import load_playbook
from auditor.results import CheckStatus
from auditor.rules import get_deriver, get_verdict_rule

ROOT = Path(__file__).resolve().parents[2]
PLAYS = {"windows": load_playbook(ROOT / "playbooks" / "mirrored-mode.yml").plays[0],
         "edge": load_playbook(ROOT / "playbooks" / "edge-nodes.yml").plays[0]}
SCENARIOS = [p for p in library_paths() if load_scenario(p).expect.verdict]


def audit(path: Path, enabled: set[str]) -> tuple[Any, list[Any]]:
    sc = load_scenario(path)
    play = PLAYS[sc.platform]
    platform = "windows" if sc.platform == "windows" else "linux"
    model = windows_model(sc, "lab-host") if sc.platform == "windows" else edge_model(sc, "lab-host")
    facts: dict[str, Any] = {"_errors": {}}
    for col in selected_collectors(play.gather[platform], enabled):
        o = model.run_collector(col.name, col.body)
        try:
            facts[col.name] = get_parser(col.parser)(CollectorOutput(col.name, o.stdout, o.stderr, o.rc, platform=platform))  # type: ignore[misc]
        except ParseError as exc:
            facts["_errors"][col.name] = str(exc)
    variables = dict(play.vars)
    for name in play.derive:
        facts.update(get_deriver(name)(facts, variables))  # type: ignore[misc]
    ctx = {"facts": facts, "vars": variables, "host": {"name": "lab-host"}, "enabled": enabled}
    checks = evaluate_checks(play.checks, ctx, platform, enabled)
    return get_verdict_rule(play.verdict)(facts, checks, variables), checks  # type: ignore[misc]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_gets_declared_verdict(path: Path):
    sc = load_scenario(path)
    enabled = set(sc.enable)
    verdict, checks = audit(path, enabled)
    assert not [c.id for c in checks if c.status == CheckStatus.error]
    assert verdict.name == sc.expect.verdict, verdict
    if sc.expect.confidence:
        assert verdict.confidence.value == sc.expect.confidence
