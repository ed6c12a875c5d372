"""What the human reports derive from the model: headline verdict, severity, who needs action first."""

from __future__ import annotations

from auditor.outcomes import ATTENTION, attention, headline_verdict
from auditor.report.view import action_groups, host_severity, host_view
from auditor.rules import verdict_catalogue

CAT = verdict_catalogue()
from auditor.results import Confidence, Verdict
from tests.report_factory import make_host, make_run


def test_headline_verdict_is_the_worst() -> None:
    host = make_host(1, "windows", "HEALTHY_NAT", None)
    second = host.plays[0].model_copy(deep=True)
    second.verdict = Verdict(name="AT_RISK_LATENT", confidence=Confidence.medium)
    host.plays.append(second)
    assert headline_verdict(host, CAT).name == "AT_RISK_LATENT"
    assert attention(host, CAT) == "at_risk"


def test_severity_is_the_highest_failed_check() -> None:
    assert host_severity(make_host(1, "windows", "CONFLICT_CONFIRMED", None)).value == "critical"
    assert host_severity(make_host(2, "linux", "EDGE_OK", None)) is None


def test_needs_action_groups_in_order_and_leaves_healthy_hosts_out() -> None:
    run = make_run(32, hostile=False)
    groups = action_groups(run)
    assert list(groups) == list(ATTENTION)
    listed = {h.name for hosts in groups.values() for h in hosts}
    verdicts = {h.name: (headline_verdict(h, CAT).name if headline_verdict(h, CAT) else None) for h in run.hosts}
    assert all(verdicts[n] not in ("HEALTHY_NAT", "EDGE_OK", "NO_WSL_OR_NO_DOCKER", "MIRRORED_WITHOUT_DOCKER") for n in listed)
    assert {headline_verdict(h, CAT).name for h in groups["conflict"]} == {"CONFLICT_CONFIRMED", "EDGE_NO_LAN_VISIBILITY"}
    assert [headline_verdict(h, CAT).name for h in groups["conflict"]][0] == "CONFLICT_CONFIRMED"
    assert {h.status.value for h in groups["not_audited"]} == {"unreachable", "auth_failed", "timed_out", "error"}
    assert {headline_verdict(h, CAT).name for h in groups["errors"]} == {"INCONCLUSIVE"}


def test_host_view_carries_every_check_and_the_failed_ids() -> None:
    """(The page orders checks worst first: tests/browser checks it.)"""
    host = make_host(0, "windows", "CONFLICT_CONFIRMED", None)
    view = host_view(host, CAT)
    assert [c["id"] for c in view["plays"][0]["checks"]] == [c.id for c in host.all_checks()]
    assert sorted(c["status"] for c in view["plays"][0]["checks"]) == ["failed"] * 4 + ["passed"] * 6
    assert "duration_ms" not in view["plays"][0]["checks"][0] and "key" not in view["plays"][0]["checks"][0]
    assert view["failed"] == ["W-CFG-02", "W-CFG-03", "W-NET-01", "W-PROBE-01"]
