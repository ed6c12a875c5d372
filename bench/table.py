"""Pure helpers: turn measured figures into ratios, target verdicts and a markdown table.

Nothing here measures anything; ``bench.run`` fills the dicts, these functions only read them.
"""

from __future__ import annotations

from typing import Any

#: The issue's targets (issue 21), checked against one run's figures.
TARGET_CPU_VS_FLOOR = 1.5          # auditor CPU per host / transport floor CPU per host
TARGET_VS_HANDTUNED = {100: 5.0, 500: 10.0}   # times faster than the hand-tuned playbook, by fleet size
TARGET_VS_IDIOMATIC = 50.0         # times faster than the idiomatic playbook
TARGET_PSS_MB = 250.0              # peak PSS sum of the process tree, any fleet size


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


AUDIT_HEADERS = ["hosts", "wall s", "hosts/s", "CPU s", "CPU ms/host", "floor wall s", "floor CPU ms/host",
                 "CPU vs floor", "peak PSS MB", "JSON MB", "HTML MB", "lab CPU s", "lost", "host statuses"]


def audit_rows(audits: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for a in audits:
        n = a["hosts"]
        floor = a.get("floor") or {}
        cpu_ms, floor_ms = per_host_ms(a.get("cpu_s"), n), per_host_ms(floor.get("cpu_s"), n)
        statuses = ", ".join(f"{k} {v}" for k, v in sorted((a.get("statuses") or {}).items()))
        rows.append([n, a.get("wall_s"), ratio(float(n), a.get("wall_s")), a.get("cpu_s"), cpu_ms, floor.get("wall_s"),
                     floor_ms, ratio(cpu_ms, floor_ms), a.get("pss_peak_mb"), a.get("json_mb"), a.get("html_mb"),
                     a.get("lab_cpu_s"), a.get("lost"), statuses])
    return rows


ANSIBLE_HEADERS = ["hosts", "forks", "auditor s", "ansible idiomatic s", "x faster", "ansible hand-tuned s", "x faster",
                   "ansible tasks (idiomatic)", "answers checked"]


def ansible_rows(comparisons: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for c in comparisons:
        idi, hand, aud = c.get("idiomatic") or {}, c.get("handtuned") or {}, c.get("auditor") or {}
        checked = "all valid" if idi.get("valid") and hand.get("valid") else \
            f"INVALID ({idi.get('problems', '?')} / {hand.get('problems', '?')} problems)"
        rows.append([c["hosts"], c.get("forks"), aud.get("wall_s"), idi.get("wall_s"), ratio(idi.get("wall_s"), aud.get("wall_s")),
                     hand.get("wall_s"), ratio(hand.get("wall_s"), aud.get("wall_s")), idi.get("tasks"), checked])
    return rows


def best(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest valid run of a forks sweep."""
    valid = [r for r in runs if r.get("wall_s") is not None and r.get("valid", not r.get("problems"))]
    return min(valid, key=lambda r: r["wall_s"]) if valid else None


SWEEP_HEADERS = ["hosts", "forks", "auditor s", "ansible hand-tuned s"]


def sweep_rows(comparisons: list[dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for c in comparisons:
        sweep = c.get("sweep") or {}
        for a, h in zip(sweep.get("auditor", []), sweep.get("handtuned", [])):
            rows.append([c["hosts"], a.get("forks"), a.get("wall_s"), h.get("wall_s")])
        ba, bh = best(sweep.get("auditor", [])), best(sweep.get("handtuned", []))
        if ba and bh:
            rows.append([c["hosts"], f"best: {ba['forks']} / {bh['forks']}", ba["wall_s"], bh["wall_s"]])
    return rows


def targets(results: dict[str, Any]) -> list[list[Any]]:
    """[target, measured, met?] rows for the figures this run has (missing figures say so)."""
    out: list[list[Any]] = []
    for a in results.get("audits", []):
        n = a["hosts"]
        r = ratio(per_host_ms(a.get("cpu_s"), n), per_host_ms((a.get("floor") or {}).get("cpu_s"), n))
        out.append([f"CPU per host <= {TARGET_CPU_VS_FLOOR}x the transport floor at {n:,} hosts", _fmt(r),
                    None if r is None else r <= TARGET_CPU_VS_FLOOR])
        pss = a.get("pss_peak_mb")
        out.append([f"peak PSS sum <= {TARGET_PSS_MB:.0f} MB at {n:,} hosts", _fmt(pss, 0),
                    None if pss is None else pss <= TARGET_PSS_MB])
        out.append([f"{n:,} hosts: every host in the report", f"lost {_fmt(a.get('lost'))}",
                    None if a.get("lost") is None else a["lost"] == 0])
    for c in results.get("ansible", []):
        aud = (c.get("auditor") or {}).get("wall_s")
        idi, hand = c.get("idiomatic") or {}, c.get("handtuned") or {}
        r_idi = ratio(idi.get("wall_s"), aud) if idi.get("valid") else None
        r_hand = ratio(hand.get("wall_s"), aud) if hand.get("valid") else None
        want = TARGET_VS_HANDTUNED.get(c["hosts"])
        out.append([f">= {TARGET_VS_IDIOMATIC:.0f}x idiomatic ansible at {c['hosts']} hosts (forks {c.get('forks')})",
                    _fmt(r_idi, 1), None if r_idi is None else r_idi >= TARGET_VS_IDIOMATIC])
        if want is not None:
            out.append([f">= {want:.0f}x hand-tuned ansible at {c['hosts']} hosts (forks {c.get('forks')})",
                        _fmt(r_hand, 1), None if r_hand is None else r_hand >= want])
    return out


def render(results: dict[str, Any]) -> str:
    """The whole markdown report of one run."""
    m = results.get("machine", {})
    parts = [f"# auditor benchmark ({results.get('mode', 'full')} run, {results.get('started', '')})", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB RAM, "
             f"{m.get('os', '?')}, Python {m.get('python', '?')}, asyncssh {m.get('asyncssh', '?')}, "
             f"ansible-core {m.get('ansible', '?')}; load average {_fmt(m.get('load_before'))} before, "
             f"{_fmt(m.get('load_after'))} after.", ""]
    if results.get("audits"):
        parts += [f"## `auditor run` (subprocess, JSON+HTML reports, forks {results.get('forks')}) and the transport floor",
                  "", markdown_table(AUDIT_HEADERS, audit_rows(results["audits"])), ""]
    if results.get("ansible"):
        parts += ["## Side by side with ansible-core (both as subprocesses, same forks)", "",
                  markdown_table(ANSIBLE_HEADERS, ansible_rows(results["ansible"])), ""]
        if any(c.get("sweep") for c in results["ansible"]):
            parts += ["### Each tool's best forks setting", "",
                      markdown_table(SWEEP_HEADERS, sweep_rows(results["ansible"])), ""]
    if results.get("startup"):
        parts += ["## Before the first host (`bench/startup.py`: fresh interpreters, best of several)", "",
                  markdown_table(["step", "wall s", "CPU s"],
                                 [[r["step"], f"{r['wall_s']:.3f}", f"{r['cpu_s']:.3f}"] for r in results["startup"]]), ""]
    if results.get("stages"):
        from bench.stages import markdown_of  # imports auditor: only when there is something to show

        parts += [f"## Where a host's CPU goes (`bench/stages.py` at {results['stages']['hosts']:,} hosts, best of three)",
                  "", markdown_of(results["stages"]), ""]
    parts += ["## Targets", "", markdown_table(["target", "measured", "met"], targets(results)), ""]
    for note in results.get("notes", []):
        parts.append(f"- {note}")
    for bad in results.get("invalid", []):
        parts.append(f"- **does not count**: {bad}")
    return "\n".join(parts).rstrip() + "\n"
