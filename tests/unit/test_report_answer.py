"""The HTML report leads with the answer: the headline and the fixes grouped by kind, each with its command."""

from __future__ import annotations

import re
import shlex
from html import unescape
from pathlib import Path

from auditor.outcomes import ATTENTION, attention, headline_verdict
from auditor.report.html import page_data, render_html
from auditor.report.redact import redact_run
from auditor.report.view import HEADLINE_PHRASES, INLINE_LIMIT, fix_groups, headline
from auditor.report.writers import write_reports
from auditor.results import HostStatus, RunResult
from tests.report_factory import HOSTILE_NAME, SCRIPT_PAYLOAD, make_remediation_run, make_run


def _reasons(run: RunResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {key: [] for key in ATTENTION}
    for host in run.hosts:
        why = attention(host, run.verdict_catalogue)
        if why:
            out[why].append(host.name)
    return out


def _expected_kind(host, run: RunResult) -> str:
    why = attention(host, run.verdict_catalogue)
    verdict = headline_verdict(host, run.verdict_catalogue)
    if why == "not_audited":
        return "re-audit"
    fix = run.verdict_catalogue[verdict.name].fix if verdict else None
    return fix.kind if fix else "review"


def test_every_needs_action_reason_has_headline_words() -> None:
    assert set(HEADLINE_PHRASES) == set(ATTENTION)


def test_headline_counts_with_the_one_needs_action_predicate() -> None:
    run = make_run(24)
    reasons = _reasons(run)
    need = sum(map(len, reasons.values()))
    text = headline(run)["text"]
    assert text == (f"{need} of 24 hosts need action: {len(reasons['conflict'])} conflicts confirmed, "
                    f"{len(reasons['at_risk'])} at risk, {len(reasons['not_audited'])} not audited, "
                    f"{len(reasons['errors'])} to review")
    assert 0 < need < 24


def test_headline_singular_and_nothing_to_do() -> None:
    run = make_run(1, hostile=False)   # one CONFLICT_CONFIRMED host
    assert headline(run)["text"] == "1 of 1 host needs action: 1 conflict confirmed"
    run = make_run(24, hostile=False)
    run.hosts = [h for h in run.hosts if attention(h, run.verdict_catalogue) is None]
    assert headline(run)["text"] == f"None of the {len(run.hosts)} hosts needs action."


def test_fix_groups_hold_each_host_that_needs_action_exactly_once_by_its_verdicts_fix() -> None:
    run = make_run(60)
    groups = fix_groups(run)
    names = [n for g in groups for n in g.hosts]
    assert sorted(names) == sorted(n for ns in _reasons(run).values() for n in ns)
    by_name = {h.name: h for h in run.hosts}
    for group in groups:
        assert {_expected_kind(by_name[n], run) for n in group.hosts} == {group.fix.kind}
    kinds = [g.fix.kind for g in groups]
    assert kinds[0] == "revert-nat" and {"edge-engine", "re-audit", "review"} <= set(kinds)


def test_commands_name_the_playbook_next_to_the_audits_the_inventory_and_exactly_the_hosts() -> None:
    run = make_run(24)
    groups = {g.fix.kind: g for g in fix_groups(run, "out/reports")}
    revert = groups["revert-nat"]
    assert revert.command is not None
    assert revert.command[:3] == ["auditor", "remediate", "playbooks/remediate-revert-nat.yml"]
    assert revert.command[3:7] == ["-i", "inventories/corp/hosts.ini", "-i", "inventories/corp/group_vars/"]
    assert revert.command[revert.command.index("--limit") + 1].split(",") == revert.hosts
    assert revert.command[-4:] == ["--enable", "restart", "-o", "out/reports/revert-nat"]
    assert revert.retry_file == "out/reports/revert-nat/last.retry"
    edge = groups["edge-engine"].command
    assert edge is not None and edge[2] == "playbooks/remediate-edge-docker-engine.yml" and "--enable" not in edge
    again = groups["re-audit"].command
    assert again is not None and again[:4] == ["auditor", "run", "playbooks/mirrored-audit.yml", "playbooks/edge-audit.yml"]
    assert set(again[again.index("--limit") + 1].split(",")) == {h.name for h in run.hosts if h.status.value not in ("ok", "failed")}
    assert groups["review"].command is None and groups["edge-network"].command is None


def test_a_hostile_host_name_is_quoted_for_the_shell_and_escaped_in_the_page() -> None:
    run = make_run(24)
    html = render_html(redact_run(run))
    commands = [unescape(c) for c in re.findall(r'<pre class="command"><code>(.*?)</code></pre>', html, re.S)]
    limits = [shlex.split(c)[shlex.split(c).index("--limit") + 1] for c in commands]
    assert any(HOSTILE_NAME in limit.split(",") for limit in limits)
    assert SCRIPT_PAYLOAD not in html


def test_remediation_run_offers_to_run_its_playbooks_again_on_the_hosts_that_need_it() -> None:
    run = make_remediation_run(10)
    reasons = _reasons(run)
    assert headline(run)["text"] == (f"4 of 10 hosts need action: {len(reasons['not_audited'])} not reached, "
                                     f"{len(reasons['errors'])} with a failed task")
    (group,) = fix_groups(run)
    assert group.fix.kind == "re-run" and group.command is not None
    assert group.command[:3] == ["auditor", "remediate", *[p.path for p in run.playbooks]][:3]
    assert sorted(group.command[group.command.index("--limit") + 1].split(",")) == sorted(
        h.name for h in run.hosts if attention(h, run.verdict_catalogue))


def test_large_groups_read_their_hosts_from_a_limit_file_written_next_to_the_report(tmp_path: Path) -> None:
    run = make_run(450, hostile=False)
    (path,) = write_reports(run, ["html"], tmp_path)
    html = path.read_text()
    big = [g for g in fix_groups(run) if len(g.hosts) > INLINE_LIMIT]
    assert any(g.command is None for g in big) and any(g.command is not None for g in big)
    for group in (g for g in big if g.command is not None):
        limit = path.with_name(f"{path.stem}.{group.fix.kind}.limit")
        assert limit.read_text().splitlines() == group.hosts
        assert f"--limit @{limit}" in unescape(html)
    for group in fix_groups(run):   # small groups name their hosts; manual fixes have no command to read a file
        if group in big and group.command is not None:
            continue
        assert not path.with_name(f"{path.stem}.{group.fix.kind}.limit").exists()
    # the table's records say which fix each host is grouped under
    rows = {h["name"]: h for h in page_data(html)["hosts"]}
    for group in fix_groups(run):
        assert {rows[n]["fix"] for n in group.hosts} == {group.fix.kind}
    assert {h["fix"] for h in rows.values() if not h["attention"]} == {""}
    assert all(h.status is not HostStatus.ok or rows[h.name]["fix"] == "" for h in run.hosts)
