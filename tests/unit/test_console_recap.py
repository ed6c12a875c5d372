"""The recap and fleet summary without a terminal (a CI log): aligned columns whatever the verdict names, no line
wider than LOG_WIDTH, and no count lost to a cut."""

from __future__ import annotations

import io
import re

from rich.console import Console

from auditor.console import LOG_WIDTH, print_recap, summary_line, wrap_log_line
from auditor.results import (Confidence, HostResult, HostStatus, PlayResult, RunResult, RunSummary, Verdict,
                             utcnow)

VERDICTS = ["PUBLISH_BROKEN_OTHER_CAUSE", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_LATENT", "HEALTHY_NAT",
            "MIRRORED_WITHOUT_DOCKER", "NO_WSL_OR_NO_DOCKER", "INCONCLUSIVE", "EDGE_HOST_NETWORK_INTERNAL_ONLY",
            "EDGE_OK", "CONFLICT_CONFIRMED", "CONFLICT_LIKELY"]


def _host(name: str, verdict: str) -> HostResult:
    now = utcnow()
    play = PlayResult(play="p", playbook="b.yml", platform="windows", verdict=Verdict(name=verdict, confidence=Confidence.high))
    return HostResult(id=name, name=name, address="127.0.0.1", connection="winrm", platform="windows",
                      status=HostStatus.failed, started=now, finished=now, plays=[play])


def _log(run: RunResult, hosts: list[HostResult]) -> list[str]:
    out = io.StringIO()
    print_recap(Console(file=out, force_terminal=False, width=80), run, ["reports/r.json"], worst=hosts, total=len(hosts))
    return out.getvalue().splitlines()


def test_without_a_terminal_the_summary_wraps_instead_of_losing_counts():
    counts = {v: 1000 + i for i, v in enumerate(VERDICTS)}
    run = RunResult(run_id="r", auditor_version="", started=utcnow(), interrupted=True,
                    summary=RunSummary(hosts=20000, by_status={"failed": 9818, "ok": 10182}, by_verdict=counts))
    run.finished = run.started
    full = summary_line(run)
    assert len(full) > LOG_WIDTH and full.index("INTERRUPTED") < full.index("verdicts:")
    lines = _log(run, [])
    summary = lines[lines.index(next(ln for ln in lines if ln.startswith("20000 hosts"))):]
    assert len(summary) >= 2 and all(len(ln) <= LOG_WIDTH for ln in summary)
    assert all(ln.startswith("  ") for ln in summary[1:])
    joined = " ".join(ln.strip() for ln in summary)
    assert "…" not in joined and joined == full  # every count is there, each with its name
    for name, count in counts.items():
        assert f"{name} {count}" in joined


def test_wrap_breaks_only_between_items_and_cuts_a_piece_longer_than_a_line():
    assert wrap_log_line("a, b | c", width=100) == ["a, b | c"]
    assert wrap_log_line("aaaa, bbbb | cccc", width=10) == ["aaaa, bbbb", "  | cccc"]
    assert wrap_log_line("aaaa, bbbb | cccc", width=9) == ["aaaa,", "  bbbb", "  | cccc"]
    long = wrap_log_line("x" * 30 + ", y", width=10)
    assert long[0] == "x" * 9 + "…" and long[1] == "  y" and all(len(ln) <= 10 for ln in long)


def test_recap_columns_stay_aligned_with_long_verdict_names():
    hosts = [_host("win-dev-0001", "PUBLISH_BROKEN_OTHER_CAUSE"), _host("win-dev-0002", "INCONCLUSIVE")]
    run = RunResult(run_id="r", auditor_version="", started=utcnow(), summary=RunSummary(hosts=2))
    rows = [ln for ln in _log(run, hosts) if ln.startswith("win-dev-")]
    assert len(rows) == 2
    times = [re.search(r"\d+\.\ds", ln) for ln in rows]
    assert all(times) and times[0].start() == times[1].start()  # type: ignore[union-attr]
    assert re.search(r"PUBLISH_BROKEN_OTHER_CAUSE\s{2,}\d", rows[0])
