"""The HTML report of the REAL simulated fleet in Chromium: audit and `auditor remediate --check --diff`.

A small lab fleet (WinRS over HTTP with NTLM, SSH) serves from a background thread; the audit runs in-process
through the real runner, transports, parsers and checks; the remediation preview runs as the CLI a user types.
Nothing here comes from the report factory: what the page shows is what the lab hosts answered.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.inventory.connection import ConnectionDefaults
from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library, load_scenario
from auditor.results import RunResult
from tests.browser.helpers import CONTRAST_JS, Opened, open_report, row_names

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AUDIT = [str(ROOT / "playbooks" / "mirrored-mode.yml"), str(ROOT / "playbooks" / "edge-nodes.yml")]
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
LIBRARY = ["win-conflict-confirmed", "win-healthy-nat", "win-trap-utf16-bom", "edge-ok-native", "edge-docker-desktop-linux"]
#: The field-note conflict, with the .wslconfig mistakes people make: a ';' "comment" and an
#: [experimental]-only key under [wsl2]. WSL warns about both; the verdict stays CONFLICT_CONFIRMED.
MESSY_WSLCONFIG = "[wsl2]\nmemory=8GB\n;networkingMode=nat\nnetworkingMode=mirrored\nhostAddressLoopback=true\n"


@pytest.fixture(scope="module")
def lab_reports(tmp_path_factory) -> Iterator[dict[str, Any]]:
    from rich.console import Console

    from auditor.commands.run import execute_audit
    from auditor.runner import RunOptions

    tmp = tmp_path_factory.mktemp("lab-report")
    messy = yaml.safe_load((ROOT / "auditor/lab/scenarios/win-conflict-confirmed.yml").read_text())
    messy["description"] = "CONFLICT_CONFIRMED with a ';' line and a misplaced key in .wslconfig"
    messy["windows"]["users"][0]["wslconfig"] = MESSY_WSLCONFIG
    (tmp / "win-conflict-messy.yml").write_text(yaml.safe_dump(messy))
    library = {s.name: s for s in load_library()}
    scenarios = [load_scenario(tmp / "win-conflict-messy.yml")] + [library[n] for n in LIBRARY]
    fleet = LabFleet(name_hosts(scenarios), ports="free")
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp / "lab.yml")
        # in a worker thread: Playwright's sync API already runs an event loop on this one
        with open("/dev/null", "w") as devnull, ThreadPoolExecutor(1) as pool:
            audit, paths = pool.submit(
                execute_audit, AUDIT, [str(inventory)], limit=None, options=RunOptions(forks=10),
                formats=["html", "json"], output=tmp / "audit", console=Console(file=devnull), quiet=True,
                connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file=str(known))).result(timeout=120)
        proc = subprocess.run(
            [sys.executable, "-m", "auditor", "remediate", REVERT, "-i", str(inventory), "--check", "--diff",
             "--report", "html,json", "-o", str(tmp / "remediate"), "-q",
             "--host-key-checking", "strict", "--known-hosts", str(known)],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        messy_host = next(h.name for h in fleet.hosts if h.member.scenario.name == "win-conflict-messy")
        remediation = RunResult.model_validate_json(next((tmp / "remediate").glob("*.json")).read_text())
        # the CLI's run keeps each host's slim form only; the JSON report holds every check's evidence
        audit_json = next(p for p in paths if p.suffix == ".json")
        full_audit = RunResult.model_validate_json(audit_json.read_text())
        assert [h.id for h in full_audit.hosts] == [h.id for h in audit.hosts]
        # the fleet keeps serving: the report's fix commands are run against it
        yield {"audit": full_audit, "audit_html": next(p for p in paths if p.suffix == ".html"),
               "remediation": remediation, "remediation_html": next((tmp / "remediate").glob("*.html")),
               "messy": messy_host, "known_hosts": known, "tmp": tmp}


def _open(browser, run: RunResult, path: Path) -> Opened:
    return open_report(browser, run, path.as_uri(), viewport={"width": 1400, "height": 1000})


def test_lab_audit_conflict_host_shows_numbered_wslconfig_and_remediation(browser, lab_reports, tmp_path) -> None:
    run: RunResult = lab_reports["audit"]
    messy = lab_reports["messy"]
    conflicted = {h.id for h in run.hosts if any(v.name == "CONFLICT_CONFIRMED" for v in h.verdicts())}
    assert messy in conflicted and len(conflicted) == 2, {h.id: [v.name for v in h.verdicts()] for h in run.hosts}
    opened = _open(browser, run, lab_reports["audit_html"])
    page = opened.page
    assert len(row_names(page)) == len(run.hosts)

    page.select_option("#f-verdict", "CONFLICT_CONFIRMED")
    assert set(row_names(page)) == conflicted
    page.get_by_role("button", name=f"Show details of {messy}").click()
    detail = page.locator(f'tr.detail[data-detail-for="{messy}"]')

    # the remediation steps the verdict rules wrote for this host, in order
    host = next(h for h in run.hosts if h.id == messy)
    verdict = next(v for v in host.verdicts() if v.name == "CONFLICT_CONFIRMED")
    assert len(verdict.remediation) >= 2
    assert detail.locator("ol.steps li").all_inner_texts() == verdict.remediation
    assert "comment out networkingMode=mirrored" in verdict.remediation[0]

    # the relevant profile's .wslconfig as the lab host served it, numbered, warned lines highlighted
    listing = detail.locator("table.listing")
    expected_lines = MESSY_WSLCONFIG.splitlines()
    assert listing.locator("th").all_inner_texts() == [str(n) for n in range(1, len(expected_lines) + 1)]
    assert listing.locator("td").all_inner_texts() == expected_lines
    assert detail.locator("h5.cfg-title").inner_text().startswith(".wslconfig C:\\Users\\dev1\\.wslconfig (from W-CFG-02)")
    evidence = next(c for c in host.all_checks() if c.id == "W-CFG-02").evidence
    warned = sorted({w["line"] for w in evidence["warnings"]})
    assert 3 in warned, evidence["warnings"]  # the ';' line: WSL's parser skips it with a warning
    assert [int(n) for n in listing.locator("tr.warned th").all_inner_texts()] == warned
    warnings = detail.locator("div.config ul.warnings li").all_inner_texts()
    assert warnings == [f"line {w['line']}: {w['message']}" for w in evidence["warnings"]]

    shot = tmp_path / "lab-conflict-expanded.png"
    detail.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert opened.clean(), (opened.requests, opened.errors, opened.console)
    page.context.close()


def test_lab_remediation_preview_shows_each_task_and_the_diff_as_text(browser, lab_reports, tmp_path) -> None:
    run: RunResult = lab_reports["remediation"]
    assert run.kind == "remediation" and run.options.check_mode is True
    would = {h.id for h in run.hosts if any(t.status.value == "changed" for t in h.all_tasks())}
    opened = _open(browser, run, lab_reports["remediation_html"])
    page = opened.page
    summary = page.locator("#task-summary").inner_text()
    assert re.sub(r"\s+", " ", summary) == (f"Tasks: ok {run.summary.tasks.get('ok', 0)} · would change "
                                            f"{run.summary.tasks['changed']} · failed 0 · skipped {run.summary.tasks['skipped']}")

    page.select_option("#f-task", "changed")
    assert set(row_names(page)) == would and lab_reports["messy"] in would
    host = next(h for h in run.hosts if h.id == lab_reports["messy"])
    page.get_by_role("button", name=f"Show details of {host.id}").click()
    detail = page.locator(f'tr.detail[data-detail-for="{host.id}"]')
    rows = detail.locator("table.tasks tbody tr")
    tasks = host.all_tasks()
    assert rows.count() == len(tasks)
    assert [b.inner_text() for b in rows.locator(".badge").all()] == \
        ["would change" if t.status.value == "changed" else t.status.value for t in tasks]
    first, edit = rows.first, tasks[0]
    assert f"{edit.name} [{edit.loop_item}]" in first.inner_text() and edit.message in first.inner_text()

    # the diff: collapsed until asked for, then shown as text, line for line, + and - lines coloured
    pre = first.locator("details.diff pre")
    assert not pre.is_visible()
    first.locator("details.diff summary").click()
    assert pre.is_visible()
    assert pre.evaluate("p => p.textContent") == edit.diff
    assert pre.locator("span.d-add").all_inner_texts() == ["+#networkingMode=mirrored\n"]
    assert pre.locator("span.d-del").all_inner_texts() == ["-networkingMode=mirrored\n"]
    colours = pre.evaluate("p => ['d-add', 'd-del', 'd-hunk'].map(c => getComputedStyle(p.querySelector('.' + c)).color)")
    assert len(set(colours)) == 3
    assert page.evaluate(CONTRAST_JS) == []

    detail.screenshot(path=str(tmp_path / "lab-remediation-diff.png"))
    assert opened.clean(), (opened.requests, opened.errors, opened.console)
    page.context.close()


#: The headline's words per needs-action reason (auditor.outcomes.ATTENTION), in its order: (one host, several).
HEADLINE_WORDS = {"conflict": ("conflict confirmed", "conflicts confirmed"), "at_risk": ("at risk", "at risk"),
                  "not_audited": ("not audited", "not audited"), "errors": ("to review", "to review")}


def _expected_fix_groups(run: RunResult) -> dict[str, set[str]]:
    """Hosts per kind of fix, straight from the one needs-action predicate and the run's verdict catalogue."""
    from auditor.outcomes import attention, headline_verdict

    groups: dict[str, set[str]] = {}
    for host in run.hosts:
        why = attention(host, run.verdict_catalogue)
        if why is None:
            continue
        verdict = headline_verdict(host, run.verdict_catalogue)
        fix = run.verdict_catalogue[verdict.name].fix if verdict and verdict.name in run.verdict_catalogue else None
        kind = "re-audit" if why == "not_audited" else fix.kind if fix else "review"
        groups.setdefault(kind, set()).add(host.name)
    return groups


def test_lab_report_leads_with_the_answer_and_the_fix_commands(browser, lab_reports, tmp_path) -> None:
    from auditor.outcomes import attention, headline_verdict

    run: RunResult = lab_reports["audit"]
    catalogue = run.verdict_catalogue
    why = {h.name: attention(h, catalogue) for h in run.hosts}
    per_reason = {key: sorted(n for n, w in why.items() if w == key) for key in HEADLINE_WORDS}
    need = sum(len(v) for v in per_reason.values())
    # the lab's scenarios: two conflicts (the messy one included), an edge node on Docker Desktop, healthy hosts
    assert len(per_reason["conflict"]) == 3 and 0 < need < len(run.hosts), why
    opened = _open(browser, run, lab_reports["audit_html"])
    page = opened.page

    # 1. the headline comes first and says it with the run's real counts
    assert page.locator("main > section").first.get_attribute("id") == "answer"
    parts = [f"{len(hosts)} {HEADLINE_WORDS[key][len(hosts) != 1]}" for key, hosts in per_reason.items() if hosts]
    assert page.locator("#headline").inner_text() == f"{need} of {len(run.hosts)} hosts need action: " + ", ".join(parts)
    page.locator("#answer button.chip", has_text=HEADLINE_WORDS["conflict"][1]).click()
    assert sorted(row_names(page)) == per_reason["conflict"]
    page.click("#f-reset")

    # 2. human labels, the code name beside them in small type: host table, needs-action table, legend
    for host in run.hosts:
        verdict = headline_verdict(host, catalogue)
        assert verdict is not None, host.name
        cell = page.locator(f'#host-rows tr.host[data-host="{host.name}"] .vlabel')
        assert cell.locator(".badge").inner_text() == catalogue[verdict.name].label != verdict.name
        assert cell.locator("code.code").inner_text() == verdict.name
        assert float(cell.locator("code.code").evaluate("c => parseFloat(getComputedStyle(c).fontSize)")) < \
            float(cell.locator(".badge").evaluate("b => parseFloat(getComputedStyle(b).fontSize)"))
    action_labels = page.locator("section[aria-labelledby=act-h] td .badge").all_inner_texts()
    assert catalogue["CONFLICT_CONFIRMED"].label in action_labels and "CONFLICT_CONFIRMED" not in action_labels

    # 3. one block per kind of fix, each with the exact command for exactly its hosts
    expected = _expected_fix_groups(run)
    assert set(expected) >= {"revert-nat", "edge-engine"}
    kinds = [a.get_attribute("id").removeprefix("fix-") for a in page.locator("article.fix").all()]
    assert sorted(kinds) == sorted(expected) and kinds[0] == "revert-nat"
    inventory = run.inventory_sources[0]
    commands = {}
    for kind in kinds:
        block = page.locator(f"#fix-{kind}")
        assert block.locator("h3 .count").inner_text() == f"({len(expected[kind])} host{'s' if len(expected[kind]) != 1 else ''})"
        block.locator("button.chip", has_text="Show these").click()
        assert set(row_names(page)) == expected[kind]
        page.click("#f-reset")
        if block.locator("pre.command").count() == 0:
            continue
        argv = shlex.split(block.locator("pre.command").first.inner_text())
        commands[kind] = argv
        limit = argv[argv.index("--limit") + 1]
        assert set(limit.split(",")) == expected[kind]
        assert argv[argv.index("-i") + 1] == inventory
        out = argv[argv.index("-o") + 1]
        assert block.locator("p.retry code").inner_text() == f"{out}/last.retry"
        retry = shlex.split(block.locator("pre.command.retry").inner_text())
        assert retry == [a if a != limit else f"@{out}/last.retry" for a in argv]
    assert commands["revert-nat"][:3] == ["auditor", "remediate", REVERT]
    assert commands["revert-nat"][-4:-2] == ["--enable", "restart"]
    assert commands["edge-engine"][:3] == ["auditor", "remediate", str(ROOT / "playbooks" / "remediate-edge-docker-engine.yml")]
    labels = page.locator("#fix-revert-nat .vlabel")
    assert {(v.locator(".badge").inner_text(), v.locator("code").inner_text()) for v in labels.all()} == {
        (catalogue[n].label, n) for n in catalogue
        if catalogue[n].fix and catalogue[n].fix.kind == "revert-nat" and n in run.summary.by_verdict}

    shot = tmp_path / "lab-answer-first.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1400, "height": 1000})
    assert shot.stat().st_size > 20_000
    assert opened.clean(), (opened.requests, opened.errors, opened.console)
    page.context.close()

    # 4. the printed command, run as printed (plus --check: preview, change nothing) against the same lab fleet,
    #    acts on exactly the hosts of its group, and the hosts whose .wslconfig sets mirrored would change
    argv = commands["revert-nat"]
    proc = subprocess.run([sys.executable, "-m", "auditor", *argv[1:], "--check", "--report", "json", "-q",
                           "--host-key-checking", "strict", "--known-hosts", str(lab_reports["known_hosts"])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = Path(argv[argv.index("-o") + 1])
    preview = RunResult.model_validate_json(next(out.glob("*.json")).read_text())
    assert {h.name for h in preview.hosts} == expected["revert-nat"]
    assert lab_reports["messy"] in {h.name for h in preview.hosts if any(t.status.value == "changed" for t in h.all_tasks())}
    assert not (out / "last.retry").exists()   # nothing failed, nothing to retry
