"""A finished host -> store rows: keys, digests, the secret scrub and the size bounds (pure functions)."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone

from auditor.report.redact import redact_run
from auditor.secrets import is_secret_name as is_secret_key
from auditor.results import CheckResult, CheckStatus, HostResult, HostStatus, PlayResult, RunResult, Severity, TaskResult, Timings
from auditor.store.rows import (
    MAX_DOCUMENT,
    MAX_MESSAGE,
    MAX_STRING,
    canonical_digest,
    check_key,
    host_check_digest,
    host_rows,
    keyed_checks,
    listing_lines,
    read_document,
)
from tests.report_factory import SECRET_VALUE, make_run

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def _host(checks: list[CheckResult], *, plays: int = 1, facts: dict | None = None) -> HostResult:
    return HostResult(
        id="h1", name="h1", address="10.0.0.1", connection="ssh", platform="linux", status=HostStatus.failed,
        started=NOW, finished=NOW, timings=Timings(total_ms=12.0),
        plays=[PlayResult(play="Edge audit", playbook="playbooks/edge.yml", platform="linux", checks=checks, facts=facts)
               for _ in range(plays)],
    )


def _check(cid: str = "L-1", status: CheckStatus = CheckStatus.failed, **kw) -> CheckResult:
    return CheckResult(id=cid, title="t", severity=Severity.high, status=status, **kw)


def test_check_key_is_playbook_play_and_check_id():
    play = PlayResult(play="Edge audit", playbook="playbooks/edge.yml", platform="linux")
    assert check_key(play, _check("L-EDGE-02")) == "edge/Edge audit/L-EDGE-02"


def test_a_playbook_run_twice_keeps_both_results_apart():
    keys = [k for k, _ in keyed_checks(_host([_check("L-1"), _check("L-2")], plays=2))]
    assert keys == ["edge/Edge audit/L-1", "edge/Edge audit/L-2",
                    "edge/Edge audit/L-1#2", "edge/Edge audit/L-2#2"]
    rows = host_rows("r1", _host([_check("L-1")], plays=2), NOW)
    assert [c["key"] for c in rows.checks] == ["edge/Edge audit/L-1", "edge/Edge audit/L-1#2"]


def test_evidence_digest_ignores_key_order_but_not_values():
    assert canonical_digest({"a": 1, "b": [1, 2]}) == canonical_digest({"b": [1, 2], "a": 1})
    assert canonical_digest({"a": 1}) != canonical_digest({"a": 2})


def test_listing_lines_only_for_numbered_listings():
    assert listing_lines({"lines": [{"n": 1, "text": "[wsl2]"}]}) == [{"n": 1, "text": "[wsl2]"}]
    assert listing_lines({"lines": ["a", "b"]}) is None
    assert listing_lines({"lines": []}) is None
    assert listing_lines("text") is None


def test_host_digest_changes_with_status_verdict_check_status_or_listing_only():
    base = host_check_digest("failed", "X", [("k1", "failed", None), ("k2", "passed", "d1")])
    assert base == host_check_digest("failed", "X", [("k2", "passed", "d1"), ("k1", "failed", None)])
    for other in (host_check_digest("ok", "X", [("k1", "failed", None), ("k2", "passed", "d1")]),
                  host_check_digest("failed", "Y", [("k1", "failed", None), ("k2", "passed", "d1")]),
                  host_check_digest("failed", "X", [("k1", "passed", None), ("k2", "passed", "d1")]),
                  host_check_digest("failed", "X", [("k1", "failed", None), ("k2", "passed", "d2")]),
                  host_check_digest("failed", "X", [("k1", "failed", None)])):
        assert other != base


def test_rows_carry_status_severity_digests_and_headline_verdict():
    run = make_run(16, hostile=False)
    host = next(h for h in run.hosts if h.verdicts() and h.verdicts()[0].name == "CONFLICT_CONFIRMED")
    rows = host_rows(run.run_id, host, NOW)
    assert rows.host["verdict"] == "CONFLICT_CONFIRMED" and rows.host["confidence"] == host.verdicts()[0].confidence.value
    assert rows.host["status"] == host.status.value and rows.host["total_ms"] == host.timings.total_ms
    assert len(rows.checks) == len(host.all_checks())
    by_id = {c["check_id"]: c for c in rows.checks}
    cfg = next(c for c in host.all_checks() if c.id == "W-CFG-02")
    assert by_id["W-CFG-02"]["status"] == cfg.status.value and by_id["W-CFG-02"]["severity"] == cfg.severity.value
    assert by_id["W-CFG-02"]["listing_digest"] == canonical_digest(cfg.evidence["lines"])
    assert by_id["W-CFG-02"]["evidence_digest"] == canonical_digest(cfg.evidence)


def test_headline_verdict_is_the_worst_by_the_injected_rank():
    run = make_run(16, hostile=False)
    host = next(h for h in run.hosts if h.verdicts())
    second = host.plays[0].model_copy(update={"verdict": host.plays[0].verdict.model_copy(update={"name": "ZZZ"})})
    host = host.model_copy(update={"plays": [host.plays[0], second]})
    assert host_rows("r", host, NOW, rank=lambda name: 1000 if name == "ZZZ" else 0).host["verdict"] == "ZZZ"
    assert host_rows("r", host, NOW, rank=lambda name: -1 if name == "ZZZ" else 0).host["verdict"] != "ZZZ"


def test_stored_document_is_the_report_scrub_of_the_host():
    run = make_run(24, hostile=True)
    for host in run.hosts:
        stored = read_document(host_rows(run.run_id, host, NOW).host["document"])
        expected = redact_run(run.model_copy(update={"hosts": [host]})).hosts[0].model_dump(mode="json")
        assert stored == expected
        assert SECRET_VALUE not in json.dumps(stored)


def test_no_result_model_field_name_looks_like_a_secret():
    # the store scrubs the whole host document: a model field named like a secret would vanish from it
    for model in (RunResult, HostResult, PlayResult, CheckResult, TaskResult, Timings):
        for name in model.model_fields:
            assert not is_secret_key(name), (model.__name__, name)


def test_long_strings_are_cut_and_say_so():
    long = "x" * (MAX_STRING + 500)
    host = _host([_check(message="m" * (MAX_MESSAGE + 10), evidence={"output": long})])
    rows = host_rows("r", host, NOW)
    doc = read_document(rows.host["document"])
    output = doc["plays"][0]["checks"][0]["evidence"]["output"]
    assert output.startswith("x" * MAX_STRING) and f"cut by the store: {MAX_STRING + 500} characters" in output
    assert len(output) < MAX_STRING + 100
    assert rows.host["cut"] == f"1 strings over {MAX_STRING} characters cut"
    assert "cut by the store" in rows.checks[0]["message"] and len(rows.checks[0]["message"]) < MAX_MESSAGE + 100
    HostResult.model_validate(doc)  # still a valid host result


def test_an_oversized_host_loses_facts_then_evidence_and_says_why():
    chunk = "y" * (MAX_STRING - 10)
    facts = {f"f{i}": chunk for i in range(MAX_DOCUMENT // MAX_STRING + 2)}
    host = _host([_check(evidence={"small": 1})], facts=facts)
    rows = host_rows("r", host, NOW)
    doc = read_document(rows.host["document"])
    assert list(doc["plays"][0]["facts"]) == ["_cut"] and "facts removed by the store" in doc["plays"][0]["facts"]["_cut"]
    assert doc["plays"][0]["checks"][0]["evidence"] == {"small": 1}  # facts were enough
    assert "facts removed" in rows.host["cut"]
    evidence = {f"e{i}": chunk for i in range(MAX_DOCUMENT // MAX_STRING + 2)}
    rows = host_rows("r", _host([_check(evidence=evidence)]), NOW)
    doc = read_document(rows.host["document"])
    assert "evidence removed by the store" in doc["plays"][0]["checks"][0]["evidence"]["_cut"]
    assert len(zlib.decompress(rows.host["document"])) <= MAX_DOCUMENT


def test_the_secret_precheck_sends_every_scrubbable_host_to_the_scrub():
    from auditor.store.rows import might_hold_secrets

    def with_evidence(evidence, **task):
        host = _host([_check(evidence=evidence)])
        if task:
            host.plays[0].tasks.append(TaskResult(name="t", module="m", status="changed", **task))
        return host

    assert not might_hold_secrets(with_evidence({"passed": "pass word", "lines": [{"n": 1, "text": "key=1"}]}))
    assert might_hold_secrets(with_evidence({"api_key": "x"}))
    assert might_hold_secrets(with_evidence({"deep": [{"X-Auth-Token": "x"}]}))
    assert might_hold_secrets(with_evidence({"ssh_pass": "x"}))
    assert might_hold_secrets(with_evidence({"note": ["-----BEGIN OPENSSH PRIVATE KEY-----\nabc"]}))
    assert might_hold_secrets(with_evidence({}, diff="+-----BEGIN RSA PRIVATE KEY-----"))
    host = _host([_check()], facts={"vars": {"winrm_password": "x"}})
    assert might_hold_secrets(host)
    for host in make_run(24, hostile=False).hosts:
        assert not might_hold_secrets(host), host.name  # the common case skips the scrub
    hostile = [h for h in make_run(24, hostile=True).hosts if SECRET_VALUE in h.model_dump_json()]
    assert hostile and all(might_hold_secrets(h) for h in hostile)
