"""Pure helpers: turn measured figures into ratios, target verdicts and a markdown table.

Nothing here measures anything; ``bench.run`` fills the dicts, these functions only read them.
"""

from __future__ import annotations

from typing import Any

#: The issue's targets, checked against one run's figures.
TARGET_WALL_1000 = 15.0            # seconds for the full audit of 1,000 hosts
TARGET_VS_IDIOMATIC = 25.0         # times faster than the idiomatic ansible playbook
TARGET_VS_HANDTUNED = 4.0          # times faster than the hand-tuned one
TARGET_CPU_VS_FLOOR = 2.0          # auditor CPU per host / bare transport CPU per host
TARGET_RSS_1000_MB = 300.0


def per_host_ms(total_s: float | None, hosts: int) -> float | None:
    if total_s is None or hosts <= 0:
        return None
    return total_s * 1000.0 / hosts


def ratio(slow: float | None, fast: float | None) -> float | None:
    """How many times ``fast`` beats ``slow`` (None when either is missing or zero)."""
    if not slow or not fast:
        return None
    return slow / fast


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned, None shown as an en dash."""
    cells = [[_fmt(c) for c in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) if rows else False
               for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if numeric[i] else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def audit_rows(audits: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for a in audits:
        n = a["hosts"]
        floor = a.get("floor") or {}
        cpu_ms = per_host_ms(a.get("cpu_s"), n)
        floor_ms = per_host_ms(floor.get("cpu_s"), n)
        rows.append([
            n, a.get("wall_s"), a.get("hosts_per_s"), a.get("cpu_s"), cpu_ms, floor.get("wall_s"), floor_ms,
            ratio(cpu_ms, floor_ms), a.get("workers"), a.get("pss_peak_mb"), a.get("rss_mb"), a.get("lab_cpu_s"),
            a.get("lost"), a.get("statuses_text"),
        ])
    return rows


AUDIT_HEADERS = ["hosts", "wall s", "hosts/s", "auditor CPU s", "CPU ms/host", "floor wall s",
                 "floor CPU ms/host", "CPU vs floor", "workers", "peak PSS sum MB", "sum of peak RSS MB",
                 "lab CPU s", "lost", "host statuses"]
#: What the two memory columns mean, printed under the table.
MEMORY_NOTE = ("Memory: *peak PSS sum* is the highest sum of PSS (shared pages split between the processes "
               "that map them) over the audit process and its workers, sampled every 50 ms from outside; "
               "*sum of peak RSS* adds each process's own peak RSS, counting pages shared with forked workers "
               "once per process: an upper bound.")
ANSIBLE_HEADERS = ["hosts", "auditor wall s", "ansible idiomatic s", "x faster", "ansible hand-tuned s", "x faster",
                   "ansible tasks (idiomatic)", "ansible failed/unreachable"]


def ansible_rows(comparisons: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for c in comparisons:
        idi, hand = c.get("idiomatic") or {}, c.get("handtuned") or {}
        bad = f"{idi.get('failed', '?')}+{idi.get('unreachable', '?')} / {hand.get('failed', '?')}+{hand.get('unreachable', '?')}"
        rows.append([c["hosts"], c.get("auditor_wall_s"), idi.get("wall_s"), ratio(idi.get("wall_s"), c.get("auditor_wall_s")),
                     hand.get("wall_s"), ratio(hand.get("wall_s"), c.get("auditor_wall_s")), idi.get("tasks"), bad])
    return rows


def targets(results: dict[str, Any]) -> list[list[Any]]:
    """[target, measured, met?] rows for the figures this run has (missing figures say so)."""
    audits = {a["hosts"]: a for a in results.get("audits", [])}
    out: list[list[Any]] = []
    a1k = audits.get(1000)
    out.append(["1,000 hosts full audit <= 15 s wall", _fmt(a1k and a1k.get("wall_s")),
                None if not a1k else a1k["wall_s"] <= TARGET_WALL_1000])
    for c in results.get("ansible", []):
        idi = ratio((c.get("idiomatic") or {}).get("wall_s"), c.get("auditor_wall_s"))
        hand = ratio((c.get("handtuned") or {}).get("wall_s"), c.get("auditor_wall_s"))
        out.append([f">= 25x idiomatic ansible at {c['hosts']} hosts", _fmt(idi, 1), None if idi is None else idi >= TARGET_VS_IDIOMATIC])
        out.append([f">= 4x hand-tuned ansible at {c['hosts']} hosts", _fmt(hand, 1), None if hand is None else hand >= TARGET_VS_HANDTUNED])
    for n, a in sorted(audits.items()):
        floor = a.get("floor") or {}
        r = ratio(per_host_ms(a.get("cpu_s"), n), per_host_ms(floor.get("cpu_s"), n))
        out.append([f"CPU per host <= 2x bare transport at {n} hosts", _fmt(r), None if r is None else r <= TARGET_CPU_VS_FLOOR])
    if a1k:
        # the memory the machine pays is the PSS sum; the RSS sum (an upper bound) is shown beside it
        pss = a1k.get("pss_peak_mb")
        out.append(["peak memory (PSS sum, audit + workers) <= 300 MB at 1,000 hosts",
                    f"{_fmt(pss, 0)} (sum of peak RSS {_fmt(a1k.get('rss_mb'), 0)})",
                    None if pss is None else pss <= TARGET_RSS_1000_MB])
    for n, a in sorted(audits.items()):
        out.append([f"{n:,} hosts: every host has a result", f"lost {a.get('lost')}", a.get("lost") == 0])
    return out


def render(results: dict[str, Any]) -> str:
    """The whole markdown report of one run."""
    m = results.get("machine", {})
    parts = [f"# auditor benchmark ({results.get('mode', 'full')} run, {results.get('started', '')})", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB RAM, "
             f"{m.get('os', '?')}, Python {m.get('python', '?')}, asyncssh {m.get('asyncssh', '?')}, "
             f"pywinrm {m.get('pywinrm', '?')}, ansible-core {m.get('ansible', '?')}.", ""]
    if results.get("audits"):
        parts += ["## Full audit (both playbooks) and the bare transport floor", "",
                  markdown_table(AUDIT_HEADERS, audit_rows(results["audits"])), "", MEMORY_NOTE, ""]
    if results.get("ansible"):
        parts += ["## Side by side with ansible-core (forks 50, gather_facts off, pipelining on)", "",
                  markdown_table(ANSIBLE_HEADERS, ansible_rows(results["ansible"])), ""]
    parts += ["## Targets", "", markdown_table(["target", "measured", "met"], targets(results)), ""]
    for note in results.get("notes", []):
        parts.append(f"- {note}")
    return "\n".join(parts).rstrip() + "\n"
