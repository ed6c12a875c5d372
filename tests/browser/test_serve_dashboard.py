"""The ``auditor serve`` dashboard in real Chromium: two real scans of a lab fleet with a remediation between
them, then the fleet page shows the headline, the trend over both scans and the change list; a hostile host name
renders as text everywhere, and no script runs (the pages have none, the CSP allows none)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.serve_fixtures import REVERT, ROOT, fleet_of, lab_schedule, serving, wait_until

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)>\"'&x"


def _scan(served: Any, name: str) -> str:
    before = served.schedule(name)["last_run"]
    assert served.request(f"/api/schedules/{name}/run", method="POST")[0] == 202
    return wait_until("the scan to end", lambda: (lambda last: last if last and last != before else None)(
        served.schedule(name)["last_run"]), 120, served.proc)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("serve")
    fleet = fleet_of(["win-conflict-confirmed", "win-healthy-nat", "edge-ok-native"])
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp / "lab.yml")
        # a host whose name is markup: nothing listens on its port, so it is unreachable in every scan
        hostile = tmp / "hostile.yml"
        hostile.write_text(yaml.safe_dump({"all": {"children": {"edge": {"hosts": {HOSTILE: {
            "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh", "ansible_user": "x",
            "ansible_password": "not-printed-anywhere"}}}}}}))
        schedule = lab_schedule("fleet", inventory, known, cron="0 3 * * *")
        schedule["inventory"].append(str(hostile))
        with serving(tmp, [schedule]) as served:
            first = _scan(served, "fleet")
            conflict = next(h.name for h in fleet.hosts if h.member.scenario.name == "win-conflict-confirmed")
            fixed = subprocess.run([sys.executable, "-m", "auditor", "remediate", REVERT, "-i", str(inventory), "--yes", "--enable", "restart",
                                    "--limit", conflict, "--host-key-checking", "strict", "--known-hosts", str(known),
                                    "-o", str(tmp / "remediation"), "-q", "--store", "none"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=180)
            assert fixed.returncode == 0, fixed.stdout + fixed.stderr
            second = _scan(served, "fleet")
            yield {"served": served, "first": first, "second": second, "conflict": conflict, "tmp": tmp}


def test_fleet_page_leads_with_the_headline_trend_and_changes(browser: Any, dashboard: dict[str, Any]) -> None:
    served = dashboard["served"]
    fleet = served.json("/api/fleet")
    diff = served.json("/api/diff")
    assert fleet["run"]["id"] == dashboard["second"] and diff["old"]["id"] == dashboard["first"]
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))
    page.goto(served.base + "/")
    assert page.locator("#headline h2").inner_text() == f"{fleet['needs_action']} of {fleet['hosts']} hosts need action"
    assert fleet["hosts"] == 4 and fleet["needs_action"] >= 1
    # the change list: the remediated host is fixed, and the rows are what the diff API says
    rows = page.locator("table.changes tbody tr")
    shown = {(r.locator("td.name").inner_text(), r.get_attribute("data-change")) for r in rows.all()}
    assert (dashboard["conflict"], "fixed") in shown
    assert shown == {(h["host"], h["change"]) for h in diff["hosts"]}
    # the trend: bars of both scans, one per verdict present in each
    bars = page.locator("svg.trend rect")
    assert {bars.nth(i).get_attribute("data-run") for i in range(bars.count())} == {dashboard["first"], dashboard["second"]}
    assert bars.count() == sum(len([v for v, n in p["by_verdict"].items() if n]) for p in fleet["trend"])
    page.screenshot(path=str(dashboard["tmp"] / "fleet.png"), full_page=True)
    assert errors == []
    page.close()


def test_a_hostile_host_name_renders_as_text(browser: Any, dashboard: dict[str, Any]) -> None:
    served = dashboard["served"]
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.goto(served.base + "/hosts?q=" + quote("<img"))
    assert page.locator("table.hosts td.name").all_inner_texts() == [HOSTILE]
    assert page.locator("img").count() == 0
    page.locator("table.hosts td.name a").click()
    page.wait_for_load_state()
    assert page.locator("#host-name").inner_text() == HOSTILE
    assert page.locator("img").count() == 0 and dialogs == []
    assert "not-printed-anywhere" not in page.content()
    page.close()


def test_host_page_shows_the_timeline_and_the_wslconfig_change(browser: Any, dashboard: dict[str, Any]) -> None:
    served = dashboard["served"]
    host = dashboard["conflict"]
    history = served.json(f"/api/hosts/{quote(host)}/history")
    assert [t["run_id"] for t in history["timeline"]] == [dashboard["second"], dashboard["first"]]
    page = browser.new_page()
    page.goto(served.base + "/hosts/" + quote(host))
    timeline = page.locator("#timeline tbody tr")
    assert timeline.count() == 2
    assert "Conflict confirmed" in timeline.nth(1).inner_text()
    assert history["file_diffs"], "the remediation changed .wslconfig between the scans"
    diff_text = page.locator("#file-diffs pre.diff").first.inner_text()
    assert "-networkingMode=mirrored" in diff_text.replace(" ", "") or "networkingMode" in diff_text
    assert page.locator("#file-diffs pre.diff .d-del").count() >= 1
    page.close()
