"""Terminal output: a live progress display while hosts run, then a recap table and a one-line summary."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from auditor.outcomes import ATTENTION, attention, headline_verdict, verdict_info
from auditor.results import CheckStatus, HostResult, HostStatus, RunResult
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


#: Without a terminal (logs, CI), a progress line at most this often.
LOG_PROGRESS_EVERY = 5.0
#: Without a terminal, the widest line auditor prints (log viewers wrap or cut longer ones).
LOG_WIDTH = 160


class LiveProgress(BaseSink):
    """A sink: on a terminal, rich live progress (done / running / pending, slowest running hosts); without one
    (logs, CI), plain lines: a progress line every few seconds, one line per host that needs attention (every
    host with -v, and its failed checks with -vv)."""

    def __init__(self, console: Console, quiet: bool = False, label: str = "auditing", verbose: int = 0):
        self.console = console
        self.quiet = quiet
        self.verbose = verbose
        self.label = label
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
        self.started = time.monotonic()
        self.last_line = 0.0

    @property
    def _plain(self) -> bool:
        return not self.quiet and not self.console.is_terminal

    def run_started(self, run: RunResult, total: int) -> None:
        self.total = total
        self.started = self.last_line = time.monotonic()
        self.task = self.progress.add_task("audit", total=total, detail="")
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self.live.start()
        elif self._plain:
            self._line(f"{self.label}: {total} hosts")

    def host_started(self, name: str) -> None:
        self.running[name] = time.monotonic()
        self._refresh()

    def host_finished(self, result: HostResult) -> None:
        self.running.pop(result.name, None)
        self.done += 1
        self.counts[result.status.value] += 1
        if self._plain and (result.status is not HostStatus.ok or self.verbose):
            verdict = host_verdict(result)
            self._line(f"{result.name}: {result.status.value}" + (f" {verdict}" if verdict != "-" else "")
                       + (f" ({result.error})" if result.error else ""))
            if self.verbose > 1:
                for check in result.all_checks():
                    if check.status in (CheckStatus.failed, CheckStatus.error):
                        self._line(f"  {check.id} {check.status.value}: {check.message}")
        self._refresh()

    def run_finished(self, run: RunResult) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        elif self._plain:
            self._progress_line(final=True)

    def _line(self, text: str) -> None:
        """One plain line: control characters made visible, cut to LOG_WIDTH (never wrapped)."""
        line = for_terminal(text)
        if len(line) > LOG_WIDTH:
            line = line[:LOG_WIDTH - 1] + "…"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True, overflow="ignore", crop=False)

    def _progress_line(self, final: bool = False) -> None:
        now = time.monotonic()
        self.last_line = now
        down = sum(v for k, v in self.counts.items() if k not in ("ok", "failed"))
        text = (f"{'done' if final else 'progress'}: {self.done}/{self.total} hosts in {now - self.started:.0f}s, "
                f"{self.counts.get('failed', 0)} need action, {down} not audited")
        if not final and self.running:
            slow = sorted(self.running.items(), key=lambda kv: kv[1])[:3]
            text += "; slowest: " + ", ".join(f"{name} {now - since:.0f}s" for name, since in slow)
        self._line(text)

    def _refresh(self) -> None:
        if self.live is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, detail=self._detail())
            self.live.update(self._render())
        elif self._plain and time.monotonic() - self.last_line >= LOG_PROGRESS_EVERY:
            self._progress_line()

    def _detail(self) -> str:
        pending = self.total - self.done - len(self.running)
        parts = [f"running {len(self.running)}", f"pending {pending}"]
        parts += [f"{k} {v}" for k, v in sorted(self.counts.items())]
        return " · ".join(parts)

    def _render(self) -> Any:
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


def print_recap(console: Console, run: RunResult, report_paths: list[str], recorded_in: str | None = None, *,
                worst: list[HostResult] | None = None, total: int | None = None) -> None:
    """A recap (hosts needing attention first, at most RECAP_ROWS, saying how many are left out and where they
    are), then where things went and the one-line fleet summary. On a terminal a table whose host names and
    verdicts never wrap; without one, plain lines no wider than LOG_WIDTH. ``worst``/``total``: the recap's hosts
    as a ``RunTally`` chose them, and how many hosts the run had (``run.hosts`` is then not read)."""
    if worst is None:
        worst, total = sorted(run.hosts, key=lambda h: _attention_rank(h, run)), len(run.hosts)
    shown = worst[:RECAP_ROWS]
    left = (total if total is not None else len(worst)) - len(shown)
    where = report_paths[0] if report_paths else "the reports"
    more = f"{left} more hosts not shown here: every host is in {where}" if left > 0 else ""
    rows = [_recap_row(host, run) for host in shown]
    if console.is_terminal:
        table = Table(title="Recap", title_justify="left", show_lines=False)
        table.add_column("host", no_wrap=True, overflow="ellipsis", max_width=48)
        table.add_column("outcome", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("failed checks / error", overflow="fold", ratio=1)
        table.add_column("time", no_wrap=True, justify="right")
        for (name, status, verdict, detail, seconds), host in zip(rows, shown):
            headline = headline_verdict(host, run.verdict_catalogue)
            style = TONE_STYLE.get(verdict_info(headline.name, run.verdict_catalogue).tone, "") if headline else ""
            table.add_row(markup(name), f"[{STATUS_STYLE.get(host.status, '')}]{status}[/]",
                          f"[{style}]{markup(verdict)}[/]" if style else markup(verdict), markup(detail), seconds)
        if more:
            table.caption = markup(more)
        console.print(table)
    else:
        width = min(max((len(r[0]) for r in rows), default=4), 48)
        verdict_width = min(max((len(r[2]) for r in rows), default=7), 40)  # the longest names are 26 characters
        _plain(console, "Recap (hosts needing attention first):")
        for name, status, verdict, detail, seconds in rows:
            _plain(console, f"{name:<{width}}  {status:<11}  {verdict:<{verdict_width}}  {seconds:>6}  {detail}")
        if more:
            _plain(console, more)
    for path in report_paths:
        _plain(console, f"report: {path}")
    if recorded_in:
        _plain(console, f"history: run {run.run_id} recorded in {recorded_in}")
    if run.history is not None and run.history.previous_run_id:
        moved = ", ".join(f"{k} {v}" for k, v in run.history.changes.items() if v and k != "unchanged") or "nothing changed"
        _plain(console, f"since the previous scan ({run.history.previous_run_id}): {moved}")
    if run.waivers:
        soon = sum(w.expiring_soon for w in run.waivers)
        _plain(console, f"waivers in force: {len(run.waivers)}" + (f", {soon} expiring within 14 days" if soon else ""))
    _plain(console, summary_line(run), wrap=True)


def _recap_row(host: HostResult, run: RunResult) -> tuple[str, str, str, str, str]:
    failed = [c.id for c in host.all_checks() if c.status in (CheckStatus.failed, CheckStatus.error)]
    detail = ", ".join(failed[:6]) + (f" +{len(failed) - 6}" if len(failed) > 6 else "")
    if host.error:
        detail = host.error if not detail else f"{detail}; {host.error}"
    return (for_terminal(host.name), host.status.value, for_terminal(host_verdict(host)), for_terminal(detail),
            f"{host.timings.total_ms / 1000:.1f}s")


def _plain(console: Console, text: str, *, wrap: bool = False) -> None:
    """A plain line (no markup), control characters made visible. Without a terminal no line is wider than
    LOG_WIDTH: a longer one is cut, or with ``wrap`` (the fleet summary, whose every count matters) continued on
    indented lines, broken only after a comma or before a ``|``."""
    line = for_terminal(text)
    lines = [line]
    if not console.is_terminal and len(line) > LOG_WIDTH:
        lines = wrap_log_line(line) if wrap else [line[:LOG_WIDTH - 1] + "…"]
    for one in lines:
        console.print(one, markup=False, highlight=False, soft_wrap=not console.is_terminal, crop=False)


def wrap_log_line(line: str, width: int = LOG_WIDTH, indent: str = "  ") -> list[str]:
    """``line`` as lines of at most ``width`` characters, broken after ", " or before " | " (a name and its count
    stay together); continuation lines start with ``indent``; a piece longer than a line is cut."""
    out: list[str] = []
    current = ""
    for piece in re.split(r"(?<=,) | (?=\| )", line):
        candidate = f"{current} {piece}" if current else (indent + piece if out else piece)
        if len(candidate) <= width or not current:
            current = candidate
        else:
            out.append(current)
            current = indent + piece
        if len(current) > width:
            current = current[:width - 1] + "…"
    return [*out, current] if current else out


def summary_line(run: RunResult) -> str:
    s = run.summary
    duration = (run.finished - run.started).total_seconds() if run.finished else 0.0
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s.by_status.items()))
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s.by_verdict.items(), key=lambda kv: -kv[1]))
    line = f"{s.hosts} hosts in {duration:.1f}s: {statuses or 'none'}"
    if run.interrupted:  # before the counts: a reader must not miss it however many verdicts follow
        line += " | INTERRUPTED (partial results kept)"
    if verdicts:
        line += f" | verdicts: {verdicts}"
    return line


def _attention_rank(host: HostResult, run: RunResult) -> tuple[int, str]:
    """Hosts that need action first (worst reason first), then the rest, by name."""
    why = attention(host, run.verdict_catalogue)
    return (-ATTENTION[why][0] if why else 0, host.name)
