"""The change class of one host between two scans (pure; definitions in docs/history.md, "Drift")."""

from __future__ import annotations

import pytest

from auditor.history.diff import ChangeClass, classify, drift_schema
from auditor.store.store import CheckTransition, HostSummary

RANK = {"BAD": 100, "RISK": 70, "OTHER_RISK": 70, "OK": 10}.__getitem__


def host(status="failed", verdict="RISK", confidence="high"):
    return HostSummary(status, verdict, confidence, None)


def changes(before: dict[str, str], after: dict[str, str]) -> list[CheckTransition]:
    """What the store reports for two scans' check statuses: the keys whose status differs or that ran once."""
    return [CheckTransition("h", k, k, "high", before.get(k), after.get(k), None, None)
            for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)]


@pytest.mark.parametrize("old,new,expected", [
    (None, host(), ChangeClass.new),
    (host(), None, ChangeClass.gone),
    (host(), host("unreachable", None), ChangeClass.unreachable),
    (host("unreachable", None), host("timed_out", None), ChangeClass.unreachable),
    (host("unreachable", None), host(), ChangeClass.changed),
    (host(verdict="OK"), host(verdict="BAD"), ChangeClass.regressed),
    (host(verdict="BAD"), host(verdict="OK"), ChangeClass.fixed),
    (host(verdict="RISK"), host(verdict="OTHER_RISK"), ChangeClass.changed),
    (host(verdict="RISK"), host(verdict="RISK"), ChangeClass.unchanged),
])
def test_host_level_classes(old, new, expected):
    assert classify(old, new, [], RANK) is expected


def test_verdict_rank_wins_over_check_transitions():
    assert classify(host(verdict="OK"), host(verdict="BAD"), changes({"a": "failed"}, {"a": "passed"}), RANK) is ChangeClass.regressed
    assert classify(host(verdict="BAD"), host(verdict="OK"), changes({"a": "passed"}, {"a": "failed"}), RANK) is ChangeClass.fixed


@pytest.mark.parametrize("before,after,expected", [
    ({"a": "passed"}, {"a": "failed"}, ChangeClass.regressed),
    ({"a": "not_applicable"}, {"a": "error"}, ChangeClass.regressed),
    ({"a": "failed"}, {"a": "passed"}, ChangeClass.fixed),
    ({"a": "error"}, {"a": "skipped"}, ChangeClass.fixed),
    ({"a": "failed", "b": "passed"}, {"a": "passed", "b": "failed"}, ChangeClass.changed),   # one fixed, one broke
    ({"a": "failed"}, {"a": "error"}, ChangeClass.changed),
    ({"a": "passed"}, {"a": "skipped"}, ChangeClass.changed),
    ({"a": "passed"}, {"a": "passed", "b": "failed"}, ChangeClass.changed),  # a new check is not the host's drift
    ({"a": "passed", "b": "failed"}, {"a": "passed"}, ChangeClass.changed),
    ({"a": "passed"}, {"a": "passed"}, ChangeClass.unchanged),
])
def test_same_verdict_rank_is_decided_by_the_checks(before, after, expected):
    assert classify(host(), host(), changes(before, after), RANK) is expected


def test_no_verdict_on_either_side_uses_the_checks():
    assert classify(host(verdict=None), host(verdict=None), changes({"a": "passed"}, {"a": "failed"}), RANK) is ChangeClass.regressed
    assert classify(host(verdict="RISK"), host(verdict=None), [], RANK) is ChangeClass.changed


def test_a_changed_file_listing_alone_is_a_change():
    listing = CheckTransition("h", "a", "a", "high", "passed", "passed", '{"file":null,"lines":["x"]}',
                              '{"file":null,"lines":["y"]}')
    assert classify(host(), host(), [listing], RANK) is ChangeClass.changed


def test_host_outcome_change_alone_is_a_change():
    assert classify(host("ok"), host("failed"), [], RANK) is ChangeClass.changed


def test_drift_schema_is_versioned_and_names_every_class():
    schema = drift_schema()
    assert schema["$id"] == "urn:auditor:diff:1.0"
    assert set(schema["$defs"]["ChangeClass"]["enum"]) == {c.value for c in ChangeClass}
    assert {"old", "new", "counts", "hosts"} <= set(schema["required"])
