"""The HTML report in real Chromium: filter, expand, print, accessibility basics, hostile output, no network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from auditor.outcomes import headline_verdict
from auditor.report.writers import write_reports
from auditor.results import RunResult
from tests.browser.helpers import CONTRAST_JS, Opened, open_report
from tests.browser.helpers import row_names as _names
from tests.report_factory import (
    BREAKOUT_PAYLOAD, HOSTILE_NAME, IMG_PAYLOAD, PWNED_FLAG, PWNED_LOG, SCRIPT_PAYLOAD, make_remediation_run, make_run,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[RunResult, str]:
    run = make_run(24)
    (path,) = write_reports(run, ["html"], tmp_path_factory.mktemp("report"))
    return run, path.as_uri()


@pytest.fixture
def opened(browser, report) -> Iterator[Opened]:
    run, url = report
    result = open_report(browser, run, url, viewport={"width": 1400, "height": 1000})
    yield result
    result.page.context.close()


def test_filter_to_conflict_confirmed_and_expand_a_host(opened: Opened, tmp_path: Path) -> None:
    page, run = opened.page, opened.run
    assert len(_names(page)) == len(run.hosts)
    page.select_option("#f-verdict", "CONFLICT_CONFIRMED")
    expected = {h.id for h in run.hosts if (v := headline_verdict(h, run.verdict_catalogue)) and v.name == "CONFLICT_CONFIRMED"}
    assert set(_names(page)) == expected and len(expected) == 3
    assert page.locator("#shown").inner_text().startswith(f"Showing {len(expected)} of {len(expected)}")

    host = next(h for h in run.hosts if h.id == "win-00000")
    row = page.locator('#host-rows tr.host[data-host="win-00000"]')
    toggle = row.get_by_role("button", name="Show details of win-00000")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    detail = page.locator('tr.detail[data-detail-for="win-00000"]')
    verdict = host.plays[0].verdict
    assert detail.locator(".verdict-box .badge").inner_text() == run.verdict_catalogue["CONFLICT_CONFIRMED"].label
    assert detail.locator(".verdict-box code.code").inner_text() == "CONFLICT_CONFIRMED"
    assert detail.locator("ol.steps li").all_inner_texts() == verdict.remediation
    # the .wslconfig listing: line numbers, the parser's warned lines highlighted, warnings listed
    listing = detail.locator("table.listing")
    assert listing.locator("th").all_inner_texts() == [str(n) for n in range(1, 10)]
    assert listing.locator("tr.warned th").all_inner_texts() == ["5", "6", "9"]
    assert "networkingMode=mirrored" in listing.locator("tr", has_text="4").first.inner_text()
    assert detail.locator("ul.warnings li").first.inner_text().startswith("line 5: hostAddressLoopback")
    # checks: worst first, with status, message; evidence collapsed until asked for
    checks = detail.locator("table.checks tbody tr")
    assert checks.count() == len(host.all_checks())
    first = checks.first
    assert first.locator(".badge").inner_text() == "failed" and "W-PROBE-01" in first.inner_text()
    assert "nothing answered" in first.inner_text()
    transcript = first.locator("details.evidence pre")
    assert not transcript.is_visible()
    first.locator("details.evidence summary").click()
    assert transcript.is_visible() and "Connection refused" in transcript.inner_text()

    issues = checks.filter(has_text="W-CFG-03")
    issues.locator("details.evidence summary").click()
    assert issues.locator("ul.warnings li").first.inner_text().startswith("line 5: unknown key 'wsl2.hostAddressLoopback'")

    shot = tmp_path / "conflict-expanded.png"
    detail.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert opened.errors == [] and [c for c in opened.console if c[0] == "error"] == []


def test_no_request_leaves_the_page(opened: Opened) -> None:
    page = opened.page
    page.select_option("#f-outcome", "failed")
    for button in page.locator("#host-rows button.toggle").all()[:5]:
        button.click()
    page.locator("details.evidence summary").first.click()
    page.get_by_role("button", name=re.compile("Show in table|CONFLICT_CONFIRMED \\(3\\)")).first.click()
    assert opened.requests == [opened.url]
    assert opened.errors == [] and [c for c in opened.console if c[0] == "error"] == []


def test_hostile_output_is_shown_as_text_and_never_runs(opened: Opened, tmp_path: Path) -> None:
    page = opened.page
    page.fill("#f-text", "evil")
    expect(page.locator("#host-rows tr.host")).to_have_count(1)
    assert _names(page) == [HOSTILE_NAME]
    page.locator("#host-rows button.toggle").click()
    for summary in page.locator("tr.detail details.evidence summary").all():
        summary.click()
    text = page.locator("tr.detail").inner_text()
    for payload in (SCRIPT_PAYLOAD, IMG_PAYLOAD, "</script><!--<script>"):
        assert payload in text, payload
    assert BREAKOUT_PAYLOAD.split("<!--")[1] in text
    assert page.locator("img").count() == 0 and page.locator("tr.detail script").count() == 0
    assert page.evaluate(f"typeof window.{PWNED_FLAG}") == "undefined"
    page.locator("tr.detail").screenshot(path=str(tmp_path / "hostile.png"))
    assert not [m for _, m in opened.console if PWNED_LOG in m]
    assert opened.requests == [opened.url]


def test_sorting_and_every_filter(opened: Opened) -> None:
    page, run = opened.page, opened.run
    page.locator('th[data-sort="name"] button').click()
    assert page.locator('th[data-sort="name"]').get_attribute("aria-sort") == "ascending"
    assert _names(page) == sorted(h.id for h in run.hosts)
    page.locator('th[data-sort="name"] button').click()
    assert _names(page) == sorted((h.id for h in run.hosts), reverse=True)

    page.select_option("#f-group", "site1")
    assert set(_names(page)) == {h.id for h in run.hosts if "site1" in h.groups}
    page.click("#f-reset")
    page.select_option("#f-severity", "critical")
    assert set(_names(page)) == {h.id for h in run.hosts if any(
        c.severity.value == "critical" and c.status.value == "failed" for c in h.all_checks())}
    page.click("#f-reset")
    page.select_option("#f-outcome", "unreachable")
    assert [n for n in _names(page)] == [h.id for h in run.hosts if h.status.value == "unreachable"]
    page.click("#f-reset")
    page.fill("#f-text", "L-EDGE-02")
    expect(page.locator("#host-rows tr.host")).to_have_count(1)
    assert _names(page) == ["edge-00007"]
    page.click("#f-reset")
    page.select_option("#f-attention", "not_audited")
    assert len(_names(page)) == 4


def test_needs_action_link_opens_the_host(opened: Opened) -> None:
    page = opened.page
    page.locator('section[aria-labelledby=act-h] button[data-show-host="edge-00007"]').click()
    assert _names(page) == ["edge-00007"]
    assert page.locator('tr.detail[data-detail-for="edge-00007"] .verdict-box code.code').inner_text() == "EDGE_NO_LAN_VISIBILITY"


def test_print_expands_matching_hosts_and_their_evidence(opened: Opened) -> None:
    page = opened.page
    page.select_option("#f-verdict", "AT_RISK_LATENT")
    page.emulate_media(media="print")
    assert not page.locator("#filters").is_visible()
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("tr.detail").count() == 2
    evidence = page.locator("tr.detail details.evidence .ev")
    assert evidence.count() > 0 and all(e.is_visible() for e in evidence.all())
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    page.emulate_media(media="screen")
    assert page.locator("tr.detail").count() == 0


def test_large_fleet_renders_a_page_of_rows_and_shows_more(browser, tmp_path: Path) -> None:
    run = make_run(450, hostile=False)
    (path,) = write_reports(run, ["html"], tmp_path)
    opened = open_report(browser, run, path.as_uri())
    page = opened.page
    assert len(_names(page)) == 200
    page.click("#more")
    assert len(_names(page)) == 400
    page.click("#more")
    assert len(_names(page)) == 450 and not page.locator("#more").is_visible()
    assert opened.requests == [opened.url]
    page.context.close()




def test_accessibility_basics(opened: Opened) -> None:
    page = opened.page
    page.locator("#host-rows button.toggle").first.click()
    page.locator("tr.detail details.evidence summary").first.click()
    assert page.evaluate(CONTRAST_JS) == []
    unlabeled = page.evaluate("() => Array.from(document.querySelectorAll('input, select')).filter(e => !e.labels.length).map(e => e.id)")
    assert unlabeled == []
    unnamed = page.evaluate("() => Array.from(document.querySelectorAll('button')).filter(b => !(b.getAttribute('aria-label') || b.textContent.trim())).length")
    assert unnamed == 0
    levels = page.evaluate("() => Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map(h => +h.tagName[1])")
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("svg[role=img]").count() == 2


def test_narrow_screen_has_no_page_level_horizontal_scroll(browser, report) -> None:
    run, url = report
    opened = open_report(browser, run, url, viewport={"width": 390, "height": 800})
    page = opened.page
    page.locator("#host-rows button.toggle").first.click()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.context.close()


def test_remediation_report_tasks_backups_filters_and_hostile_diff(browser, tmp_path: Path) -> None:
    run = make_remediation_run(10, hostile=True)
    (path,) = write_reports(run, ["html"], tmp_path)
    opened = open_report(browser, run, path.as_uri(), viewport={"width": 1400, "height": 1000})
    page = opened.page
    assert page.locator("h1").inner_text() == "Fleet remediation report"
    assert page.locator("#f-verdict").count() == 0 and page.locator("#legend-h").count() == 0
    # the chart's "failed" button shows the hosts with a failed task
    page.locator('button[data-filter="task"][data-value="failed"]').click()
    failed = [h.id for h in run.hosts if any(t.status.value == "failed" for t in h.all_tasks())]
    assert sorted(_names(page)) == sorted(failed) and page.locator("#f-task").input_value() == "failed"
    page.click("#f-reset")

    host = run.hosts[0]   # every task changed, the first with a backup and a diff carrying markup
    page.get_by_role("button", name=f"Show details of {host.id}").click()
    rows = page.locator(f'tr.detail[data-detail-for="{host.id}"] table.tasks tbody tr')
    assert [b.inner_text() for b in rows.locator(".badge").all()] == ["changed"] * 3
    assert rows.first.locator(".backup code").inner_text() == host.plays[0].tasks[0].backup_path
    rows.first.locator("details.diff summary").click()
    pre = rows.first.locator("pre.diff")
    assert pre.evaluate("p => p.textContent") == host.plays[0].tasks[0].diff
    assert f"+{SCRIPT_PAYLOAD}\n" in pre.locator("span.d-add").all_inner_texts()
    assert IMG_PAYLOAD in rows.first.inner_text()
    assert page.locator("img").count() == 0 and page.evaluate(f"typeof window.{PWNED_FLAG}") == "undefined"
    assert opened.clean(), (opened.requests, opened.errors, opened.console)
    page.context.close()


def test_details_of_a_large_run_are_unpacked_when_a_host_is_opened(browser, tmp_path: Path, monkeypatch) -> None:
    """Past PREFETCH_HOSTS nothing is unpacked up front: opening a host unpacks its block, and only then does the
    search see its check messages. (The threshold is lowered so the factory run stands for a large fleet.)"""
    import auditor.report.html as html

    monkeypatch.setattr(html, "PREFETCH_HOSTS", 10)
    monkeypatch.setattr(html, "DETAIL_CHUNK", 5)
    run = make_run(24)
    (path,) = write_reports(run, ["html"], tmp_path)
    opened = open_report(browser, run, path.as_uri(), viewport={"width": 1400, "height": 1000})
    page = opened.page
    assert page.evaluate("document.documentElement.dataset.details") == "lazy"
    assert page.locator("script[type='application/octet-stream']").count() == 5
    page.fill("#f-text", "nothing answered")   # W-PROBE-01's message on win-00000: not unpacked yet
    expect(page.locator("#shown")).to_contain_text("Showing 0 of 0")
    page.click("#f-reset")
    page.get_by_role("button", name="Show details of win-00000").click()
    detail = page.locator('tr.detail[data-detail-for="win-00000"]')
    expect(detail.locator("ol.steps li")).to_have_count(len(run.hosts[0].plays[0].verdict.remediation))
    assert detail.locator("ol.steps li").all_inner_texts() == run.hosts[0].plays[0].verdict.remediation
    page.get_by_role("button", name="Show details of win-00000").click()   # closes it again
    page.fill("#f-text", "nothing answered")
    expect(page.locator("#host-rows tr.host")).to_have_count(1)
    assert _names(page) == ["win-00000"]
    assert opened.clean(), (opened.requests, opened.errors, opened.console)
    page.context.close()
