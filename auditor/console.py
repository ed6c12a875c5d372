"""Terminal output: a live progress display while hosts run, then a recap table and a one-line summary."""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from auditor.results import CheckStatus, HostResult, HostStatus, RunResult
from auditor.outcomes import ATTENTION, attention, headline_verdict, verdict_info
from auditor.sinks import BaseSink
from auditor.textsafe import for_terminal, markup

STATUS_STYLE = {
    HostStatus.ok: "green",
    HostStatus.failed: "red",
    HostStatus.unreachable: "magenta",
    HostStatus.auth_failed: "magenta",
    HostStatus.timed_out: "yellow",
    HostStatus.error: "bold red",
}
#: terminal style per verdict tone (the run's catalogue gives each verdict its tone)
TONE_STYLE = {"conflict": "bold red", "risk": "yellow", "review": "magenta", "ok": "green", "info": ""}
RECAP_ROWS = 40


class LiveProgress(BaseSink):
    """A sink: rich live progress (done / running / pending, slowest running hosts)."""

    def __init__(self, console: Console, quiet: bool = False, label: str = "auditing"):
        self.console = console
        self.quiet = quiet
        self.running: dict[str, float] = {}
        self.done = 0
        self.total = 0
        self.counts: Counter[str] = Counter()
        self.progress = Progress(
            TextColumn(f"[bold]{escape(label)}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.task: TaskID | None = None
        self.live: Live | None = None

    def run_started(self, run: RunResult, total: int) -> None:
        self.total = total
        self.task = self.progress.add_task("audit", total=total, detail="")
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self.live.start()

    def host_started(self, name: str) -> None:
        self.running[name] = time.monotonic()
        self._refresh()

    def host_finished(self, result: HostResult) -> None:
        self.running.pop(result.name, None)
        self.done += 1
        self.counts[result.status.value] += 1
        if self.live is None and not self.quiet and result.status is not HostStatus.ok and not self.console.is_terminal:
            self.console.print(for_terminal(f"{result.name}: {result.status.value}" + (f" ({result.error})" if result.error else "")),
                               markup=False, highlight=False)
        self._refresh()

    def run_finished(self, run: RunResult) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _refresh(self) -> None:
        if self.live is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, detail=self._detail())
            self.live.update(self._render())

    def _detail(self) -> str:
        pending = self.total - self.done - len(self.running)
        parts = [f"running {len(self.running)}", f"pending {pending}"]
        parts += [f"{k} {v}" for k, v in sorted(self.counts.items())]
        return " · ".join(parts)

    def _render(self):
        slow = sorted(self.running.items(), key=lambda kv: kv[1])[:5]
        now = time.monotonic()
        if not slow:
            return self.progress
        table = Table(box=None, show_header=False, padding=(0, 1))
        for name, since in slow:
            table.add_row("[dim]slowest[/dim]", markup(name), f"{now - since:5.1f}s")
        return Group(self.progress, table)


def host_verdict(host: HostResult) -> str:
    verdicts = host.verdicts()
    return ", ".join(v.name for v in verdicts) if verdicts else "-"


def print_recap(console: Console, run: RunResult, report_paths: list[str], recorded_in: str | None = None) -> None:
    """A recap table (hosts needing attention first, bounded) and the one-line fleet summary."""
    hosts = sorted(run.hosts, key=lambda h: _attention_rank(h, run))
    table = Table(title="Recap", title_justify="left", show_lines=False)
    for col in ("host", "outcome", "verdict", "failed checks", "time"):
        table.add_column(col, overflow="fold")
    for host in hosts[:RECAP_ROWS]:
        failed = [c.id for c in host.all_checks() if c.status in (CheckStatus.failed, CheckStatus.error)]
        detail = ", ".join(failed[:6]) + (f" +{len(failed) - 6}" if len(failed) > 6 else "")
        if host.error:
            detail = host.error if not detail else f"{detail}; {host.error}"
        verdict = host_verdict(host)
        headline = headline_verdict(host, run.verdict_catalogue)
        style = TONE_STYLE.get(verdict_info(headline.name, run.verdict_catalogue).tone, "") if headline else ""
        table.add_row(
            markup(host.name),
            f"[{STATUS_STYLE.get(host.status, '')}]{host.status.value}[/]",
            f"[{style}]{markup(verdict)}[/]" if style else markup(verdict),
            markup(detail),
            f"{host.timings.total_ms / 1000:.1f}s",
        )
    if len(hosts) > RECAP_ROWS:
        table.caption = f"{len(hosts) - RECAP_ROWS} more hosts in the report"
    console.print(table)
    for path in report_paths:
        console.print(f"report: {markup(path)}", highlight=False)
    if recorded_in:
        console.print(f"history: run {markup(run.run_id)} recorded in {markup(recorded_in)}", highlight=False)
    if run.history is not None and run.history.previous_run_id:
        moved = ", ".join(f"{k} {v}" for k, v in run.history.changes.items() if v and k != "unchanged") or "nothing changed"
        console.print(f"since the previous scan ({markup(run.history.previous_run_id)}): {markup(moved)}", highlight=False)
    if run.waivers:
        soon = sum(w.expiring_soon for w in run.waivers)
        console.print(f"waivers in force: {len(run.waivers)}" + (f", {soon} expiring within 14 days" if soon else ""),
                      highlight=False)
    console.print(for_terminal(summary_line(run)), markup=False, highlight=False)


def summary_line(run: RunResult) -> str:
    s = run.summary
    duration = (run.finished - run.started).total_seconds() if run.finished else 0.0
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s.by_status.items()))
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s.by_verdict.items(), key=lambda kv: -kv[1]))
    line = f"{s.hosts} hosts in {duration:.1f}s: {statuses or 'none'}"
    if verdicts:
        line += f" | verdicts: {verdicts}"
    if run.interrupted:
        line += " | INTERRUPTED (partial results kept)"
    return line


def _attention_rank(host: HostResult, run: RunResult) -> tuple[int, str]:
    """Hosts that need action first (worst reason first), then the rest, by name."""
    why = attention(host, run.verdict_catalogue)
    return (-ATTENTION[why][0] if why else 0, host.name)
