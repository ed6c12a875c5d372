"""The self-contained HTML report: one file, no request leaves the page.

Static parts (metadata, summary charts, the hosts that need action) are rendered by Jinja2 with autoescape on.
The host table is drawn by an inline script from the data in a ``<script type="application/json">`` block,
a page of rows at a time, so 5,000 hosts stay light; the script builds nodes with ``textContent`` only.
A Content-Security-Policy with the hashes of the inline script and style forbids every other script,
style or request, so even a rendering mistake could not run remote output or reach the network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from collections.abc import Callable
from typing import Any

import jinja2
from markupsafe import Markup

from auditor.report.files import atomic_write, report_path
from auditor.outcomes import ATTENTION, attention, headline_verdict, verdict_info
from auditor.report.stream import is_streamed
from auditor.report.view import (
    FixGroup, Needing, fix_groups, headline, host_details_json, host_row, needing, needing_groups,
    needing_order, shell_line, task_counts, task_label,
)
from auditor.smallest import Smallest
from auditor.results import HOST_DOWN_STATUSES, HostResult, HostStatus, RunResult, Severity, TaskStatus, Verdict

#: Rows shown per category in the "needs action" section; the table holds the rest.
NEEDS_ACTION_CAP = 50
#: Host names listed under a fix group on the page (the limit file holds them all).
FIX_NAMES_CAP = 500
_NO_VERDICT = "(no verdict)"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("auditor.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# U+2028/2029 are line terminators in older JS parsers; '<' '>' '&' escaped so "</script>" and "<!--"
# cannot end or confuse the data block.
_SCRIPT_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                      "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(data: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</``, no ``<!--``)."""
    return Markup(json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_JSON_ESCAPES))


#: Hosts per block of details. Each block is the JSON of its hosts' details (plays, checks, evidence, tasks),
#: gzip-compressed and base64-encoded; the page unpacks a block (DecompressionStream) when one of its hosts is
#: expanded, and at most a few blocks' worth up front. Repetitive evidence compresses ~15x: 20,000 hosts fit the page.
DETAIL_CHUNK = 250
#: A run of at most this many hosts has every block unpacked in the background once the table is drawn, so
#: search covers check messages and printing has every detail; past it, details come when a host is opened.
PREFETCH_HOSTS = 2000


def detail_blocks(hosts: list[HostResult]) -> list[str]:
    """The hosts' details in blocks of ``DETAIL_CHUNK``: base64 of gzip of a JSON array, one entry per host."""
    return [_block([host_details_json(h) for h in hosts[i:i + DETAIL_CHUNK]]) for i in range(0, len(hosts), DETAIL_CHUNK)]


def _block(entries: list[str]) -> str:
    payload = "[" + ",".join(entries) + "]"
    return base64.b64encode(gzip.compress(payload.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


@dataclass
class Listed:
    """What the page names host by host: every host needing action as a ``Needing`` record, grouped by ``ATTENTION``
    key, the first ``NEEDS_ACTION_CAP`` of each group as slim hosts with their one-line reason, and the first
    ``CHANGES_CAP`` hosts that changed since the previous scan with how many did."""

    groups: dict[str, list[Needing]]
    shown: dict[str, list[tuple[HostResult, str]]]
    changed: list[HostResult]
    changed_total: int


def listed_of(run: RunResult) -> Listed:
    """``Listed`` of a run held in memory."""
    catalogue = run.verdict_catalogue
    groups = needing_groups(run.hosts, run)
    by_name = {h.name: h for h in run.hosts}
    shown = {key: [(h, _reason(h, headline_verdict(h, catalogue))) for h in (by_name[i.name] for i in items[:NEEDS_ACTION_CAP])]
             for key, items in groups.items()}
    changed = sorted((h for h in run.hosts if _changed(h)), key=_change_order)
    return Listed(groups, shown, changed[:CHANGES_CAP], len(changed))


def _changed(host: HostResult) -> bool:
    return host.previous is not None and host.previous.change != "unchanged"


def _change_order(host: HostResult) -> tuple[int, str]:
    change = host.previous.change if host.previous is not None else ""
    return (CHANGE_ORDER.index(change) if change in CHANGE_ORDER else len(CHANGE_ORDER), host.name)


@dataclass
class PageParts:
    """What the page needs of each host's full result, gathered in one pass over a streamed run (the hosts are read
    back from the history store once and never held together): table records (their values, under ``fields``),
    detail blocks, counts, and the hosts it names (``listed``)."""

    fields: list[str]
    rows: list[list[Any]]
    details: list[str]
    tasks: dict[str, int]
    listed: Listed
    total: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


def one_pass(run: RunResult, each: Callable[[HostResult], None] | None = None) -> tuple[RunResult, PageParts]:
    """The parts of the page, made from the full hosts as they stream by; only the hosts the page names are kept
    (slim), a few dozen, and records of those needing action; every other host is counted. ``each`` sees every
    full host too (the JSON report is written in the same pass: the store is read once for both). The run comes
    back without hosts."""
    catalogue = run.verdict_catalogue
    needing_by: dict[str, list[Needing]] = {key: [] for key in ATTENTION}
    shown: dict[str, Smallest[tuple[HostResult, str]]] = {key: Smallest(NEEDS_ACTION_CAP) for key in ATTENTION}
    changed: Smallest[HostResult] = Smallest(CHANGES_CAP)
    changed_total = 0
    parts = PageParts([], [], [], {s.value: 0 for s in TaskStatus}, Listed({}, {}, [], 0))
    chunk: list[str] = []
    for host in run.hosts:
        if each is not None:
            each(host)
        verdict = headline_verdict(host, catalogue)
        why = attention(host, catalogue)
        fix = None
        if why:
            item = needing(host, why, run)
            needing_by[why].append(item)
            fix = item.fix
            shown[why].add(needing_order(item), lambda: (host.slim(), _reason(host, verdict)))
        if _changed(host):
            changed_total += 1
            changed.add(_change_order(host), host.slim)
        row = host_row(host, catalogue, fix)
        if not parts.fields:
            parts.fields = list(row)
        parts.rows.append(list(row.values()))
        parts.total += 1
        parts.statuses[host.status.value] = parts.statuses.get(host.status.value, 0) + 1
        name = verdict.name if verdict else _NO_VERDICT
        parts.verdicts[name] = parts.verdicts.get(name, 0) + 1
        parts.groups.update(host.groups)
        for status, n in task_counts(host).items():
            parts.tasks[status] += n
        chunk.append(host_details_json(host))
        if len(chunk) == DETAIL_CHUNK:
            parts.details.append(_block(chunk))
            chunk = []
    if chunk:
        parts.details.append(_block(chunk))
    for items in needing_by.values():
        items.sort(key=needing_order)
    parts.listed = Listed(needing_by, {key: best.items() for key, best in shown.items()}, changed.items(), changed_total)
    return run.model_copy(update={"hosts": []}), parts


_DATA_RE = re.compile(r'<script type="application/json" id="auditor-data">(.*?)</script>', re.S)
_BLOCK_RE = re.compile(r'<script type="application/octet-stream" id="auditor-details-(\d+)">([A-Za-z0-9+/=]*)</script>')


def page_data(html: str) -> dict[str, Any]:
    """What the page's script reads, with every host's details unpacked into its record (for tests and tools)."""
    found = _DATA_RE.search(html)
    if found is None:
        raise ValueError("no data block in this page")
    data: dict[str, Any] = json.loads(found.group(1))
    hosts = data["hosts"] = [dict(zip(data["fields"], row)) for row in data.pop("rows")]
    for match in _BLOCK_RE.finditer(html):
        first = int(match.group(1)) * data["chunk"]
        for j, details in enumerate(json.loads(gzip.decompress(base64.b64decode(match.group(2))))):
            hosts[first + j].update(details)
    return data


def _static(name: str) -> str:
    """A static asset next to the templates, inlined verbatim (not a template: JS has its own braces)."""
    assert _ENV.loader is not None
    return _ENV.loader.get_source(_ENV, name)[0]


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _bars(counts: list[tuple[str, int, str]], values: list[str] | None = None) -> dict[str, Any]:
    """Geometry of a horizontal bar chart: rows of (label, count, tone, bar width, y) and the value its
    button filters the host table by (``values``, default the labels)."""
    top = max((c for _, c, _ in counts), default=0) or 1
    rows = [
        {"label": label, "count": count, "tone": tone, "width": round(290 * count / top, 1), "y": 8 + 26 * i,
         "value": values[i] if values else label}
        for i, (label, count, tone) in enumerate(counts)
    ]
    return {"rows": rows, "height": 16 + 26 * len(rows)}


def _verdict_counts(run: RunResult, parts: PageParts | None = None) -> list[tuple[str, int, str]]:
    counts: dict[str, int] = dict(parts.verdicts) if parts is not None else {}
    for host in run.hosts if parts is None else ():
        verdict = headline_verdict(host, run.verdict_catalogue)
        name = verdict.name if verdict else _NO_VERDICT
        counts[name] = counts.get(name, 0) + 1
    info = {n: verdict_info(n, run.verdict_catalogue) for n in counts}
    ordered = sorted(counts, key=lambda n: (n == _NO_VERDICT, -info[n].rank, n))
    return [(n, counts[n], "none" if n == _NO_VERDICT else info[n].tone) for n in ordered]


def _status_counts(run: RunResult, parts: PageParts | None = None) -> list[tuple[str, int, str]]:
    counts = {s.value: 0 for s in HostStatus}
    if parts is not None:
        counts.update(parts.statuses)
    for host in run.hosts if parts is None else ():
        counts[host.status.value] += 1
    tones = {"ok": "ok", "failed": "risk"}
    return [(s, c, tones.get(s, "down")) for s, c in counts.items() if c]


#: Tones of task statuses in the summary chart (changed is what a remediation run is for: not an alarm).
_TASK_TONES = {"ok": "ok", "changed": "info", "failed": "conflict", "skipped": "none"}


def is_check_mode(run: RunResult) -> bool:
    return run.kind == "remediation" and bool(run.options.check_mode)


def _task_counts(run: RunResult, parts: PageParts | None = None) -> list[tuple[str, int, str]]:
    """Tasks per status over the run (from ``parts`` when the hosts were counted as they streamed by)."""
    counts = dict(parts.tasks) if parts is not None else {s.value: 0 for s in TaskStatus}
    if parts is None:
        for host in run.hosts:
            for status, n in task_counts(host).items():
                counts[status] += n
    return [(s, c, _TASK_TONES[s]) for s, c in counts.items()]


def _duration(run: RunResult) -> str:
    if run.finished is None:
        return "not finished"
    seconds = (run.finished - run.started).total_seconds()
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)} min {secs:.1f} s" if minutes else f"{secs:.1f} s"


def _reason(host: HostResult, verdict: Verdict | None) -> str:
    """One line saying why a host is listed: verdict summary, host error, or its first failing check."""
    if host.status in HOST_DOWN_STATUSES:
        return host.error or host.status.value
    deciding = set(verdict.decided_by) if verdict else set()
    failed_task = next((t for t in host.all_tasks() if t.status == TaskStatus.failed), None)
    if failed_task is not None:
        item = f" [{failed_task.loop_item}]" if failed_task.loop_item else ""
        return f"task {failed_task.name}{item} failed: {failed_task.message}"
    failing = [c for c in host.all_checks() if c.status.value in ("failed", "error")]
    if failing:
        # the checks that decided the verdict say why best; then the most severe
        first = min(failing, key=lambda c: (c.id not in deciding, -c.severity.rank))
        return f"{first.id}: {first.message or first.title}"
    return verdict.summary if verdict else ""


def _fix_view(group: FixGroup, run: RunResult) -> dict[str, Any]:
    """What the page shows of one fix group: verdicts with labels and code names, the command, its retry file."""
    catalogue = run.verdict_catalogue
    verdicts = [{"name": n, "label": verdict_info(n, catalogue).label if n in catalogue else n,
                 "tone": verdict_info(n, catalogue).tone if n in catalogue else "down", "count": c}
                for n, c in sorted(group.verdicts.items(), key=lambda item: -verdict_info(item[0], catalogue).rank)]
    retry = None
    if group.command and group.retry_file:
        argv = list(group.command)
        argv[argv.index("--limit") + 1] = "@" + group.retry_file
        retry = shell_line(argv)
    return {"kind": group.fix.kind, "title": group.fix.title, "note": group.fix.note, "total": len(group.hosts),
            "hosts": group.hosts[:FIX_NAMES_CAP], "verdicts": verdicts, "playbook": group.fix.playbook,
            "command": shell_line(group.command) if group.command else None, "retry_file": group.retry_file,
            "retry": retry, "limit_file": group.limit_file}


TREND_TONES = ("conflict", "risk", "review", "info", "ok", "down")
CHANGE_ORDER = ("regressed", "unreachable", "gone", "new", "changed", "fixed", "unchanged")
#: Hosts listed in "what changed"; the host table holds the rest (each host shows its previous verdict).
CHANGES_CAP = 50


def _trend(run: RunResult) -> dict[str, Any] | None:
    """Stacked columns of hosts per verdict tone over the last scans (oldest first), from ``run.history``."""
    if run.history is None or not run.history.trend:
        return None
    catalogue = run.verdict_catalogue
    top = max((p.hosts for p in run.history.trend), default=0) or 1
    columns = []
    for i, point in enumerate(run.history.trend):
        per_tone = dict.fromkeys(TREND_TONES, 0)
        for name, count in point.by_verdict.items():
            per_tone[verdict_info(name, catalogue).tone if name in catalogue else "review"] += count
        down = sum(n for status, n in point.by_status.items() if status not in ("ok", "failed"))
        per_tone["down"] += down
        y, segments = 170.0, []
        for tone in TREND_TONES:
            height = round(150 * per_tone[tone] / top, 1)
            if height:
                y -= height
                segments.append({"tone": tone, "y": round(y, 1), "height": height, "count": per_tone[tone]})
        columns.append({"x": 40 + 56 * i, "segments": segments, "label": point.started.strftime("%m-%d %H:%M"),
                        "run": point.run_id, "hosts": point.hosts, "current": point.run_id == run.run_id})
    return {"columns": columns, "width": 60 + 56 * len(columns), "tones": TREND_TONES}


def _changes(run: RunResult, listed: Listed) -> dict[str, Any] | None:
    """"What changed since the previous scan": counts per change class and the changed hosts, worst first."""
    if run.history is None or run.history.previous_run_id is None:
        return None
    rows = []
    for host in listed.changed:
        verdict = headline_verdict(host, run.verdict_catalogue)
        assert host.previous is not None
        rows.append({"host": host, "change": host.previous.change, "old": host.previous.verdict or host.previous.status or "",
                     "new": verdict.name if verdict else host.status.value})
    counts = [(c, run.history.changes.get(c, 0)) for c in CHANGE_ORDER]
    return {"previous": run.history.previous_run_id, "previous_started": _when(run.history.previous_started),
            "counts": counts, "rows": rows, "total": listed.changed_total}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else ""


def limit_files(path: Path) -> Callable[[str], str]:
    """Where the report at ``path`` keeps the host list of a large fix group: next to it, ``<report>.<kind>.limit``."""
    return lambda kind: str(path.with_name(f"{path.stem}.{kind}.limit"))


def render_html(run: RunResult, report_dir: str = "reports", limit_file: Callable[[str], str] | None = None) -> str:
    """The report as one HTML document (run the secret scrub first: ``write_reports`` does).

    ``report_dir`` is the folder the fix commands write their reports (and retry files) under; ``limit_file(kind)``
    names the file a large fix group's command reads its hosts from (``write_html`` writes them)."""
    listed = listed_of(run)
    return _render(run, listed, fix_groups(run, report_dir, limit_file, listed.groups))


def _render(run: RunResult, listed: Listed, fixes: list[FixGroup], parts: PageParts | None = None) -> str:
    """``parts``: made from the full hosts in one pass (``one_pass``); ``run`` then holds no host."""
    css = _static("report.css")
    js = _static("report.js")
    catalogue = run.verdict_catalogue
    fix_of = {name: g.fix for g in fixes for name in g.hosts}
    action = []
    for key, items in listed.groups.items():
        if not items:
            continue
        rows = [{"host": h, "verdict": headline_verdict(h, catalogue), "reason": reason, "fix": fix_of[h.name]}
                for h, reason in listed.shown[key]]
        action.append({"key": key, "title": ATTENTION[key][1], "total": len(items), "rows": rows})
    legend = {n: catalogue[n] for n in sorted(catalogue, key=lambda n: -catalogue[n].rank)}
    all_groups = sorted(parts.groups if parts is not None else {g for h in run.hosts for g in h.groups})
    check_mode = is_check_mode(run)
    remediation = run.kind == "remediation"
    # one array per host under one list of field names: the names once, not 20,000 times
    table_rows: list[list[Any]]
    if parts is not None:  # each row's fix was set in the pass
        fields, table_rows = parts.fields, parts.rows
    else:
        table = [host_row(h, catalogue, fix_of.get(h.name)) for h in run.hosts]
        fields, table_rows = (list(table[0]) if table else []), [list(r.values()) for r in table]
    data = {"fields": fields, "rows": table_rows,
            "tones": {n: i.tone for n, i in catalogue.items()}, "labels": {n: i.label for n, i in catalogue.items()},
            "kind": run.kind, "check_mode": check_mode, "chunk": DETAIL_CHUNK, "prefetch": PREFETCH_HOSTS}
    tasks = _task_counts(run, parts)
    task_rows = [(task_label(s, check_mode), c, tone) for s, c, tone in tasks]
    charts = [("Hosts per outcome", _bars(_status_counts(run, parts)), "outcome")]
    verdicts = _verdict_counts(run, parts)
    if remediation:
        charts.insert(0, ("Tasks per status", _bars(task_rows, [s for s, _, _ in tasks]), "task"))
    else:
        labelled = [(catalogue[n].label if n in catalogue else n, c, tone) for n, c, tone in verdicts]
        charts.insert(0, ("Hosts per verdict", _bars(labelled, [n for n, _, _ in verdicts]), "verdict"))
    csp = (
        "default-src 'none'; base-uri 'none'; form-action 'none'; img-src data:; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}"
    )
    from auditor.playbook.compile_cache import template_cache  # Jinja2's per-user cache, shared with playbooks

    _ENV.bytecode_cache = template_cache()  # the page compiled once per auditor version, not in every run
    return _ENV.get_template("report.html.j2").render(
        run=run, hosts_total=parts.total if parts is not None else len(run.hosts), css=Markup(css), js=Markup(js), csp=csp, data=script_json(data),
        duration=_duration(run), started=_when(run.started), finished=_when(run.finished),
        charts=charts, remediation=remediation, check_mode=check_mode,
        task_statuses=[(s.value, task_label(s.value, check_mode)) for s in TaskStatus],
        action=action, groups=all_groups, attention_items=list(ATTENTION.items()), legend=legend,
        severities=[s.value for s in Severity], statuses=[s.value for s in HostStatus],
        verdict_names=[n for n, _, _ in verdicts], labels={n: i.label for n, i in catalogue.items()},
        changes=_changes(run, listed), trend=_trend(run), waivers=run.waivers,
        headline=headline(run, listed.groups, parts.total if parts is not None else None), fixes=[_fix_view(g, run) for g in fixes], details=parts.details if parts is not None else detail_blocks(run.hosts),
    )


def write_html(run: RunResult, out_dir: Path, prepared: tuple[RunResult, PageParts] | None = None) -> Path:
    """The page, and next to it the host list of each fix group too large to name on a command line.
    ``prepared``: ``one_pass(run)`` already made (while another report read the same hosts)."""
    path = report_path(out_dir, run, "html")
    parts = None
    if prepared is not None:
        run, parts = prepared
    elif is_streamed(run):  # hosts read back from the store: one pass over them, never all held at once
        run, parts = one_pass(run)
    listed = parts.listed if parts is not None else listed_of(run)
    fixes = fix_groups(run, str(out_dir), limit_files(path), listed.groups)
    for group in fixes:
        if group.limit_file:
            atomic_write(Path(group.limit_file), "".join(f"{name}\n" for name in group.hosts).encode("utf-8"))
    atomic_write(path, _render(run, listed, fixes, parts).encode("utf-8"))
    return path
