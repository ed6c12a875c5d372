"""The trend chart: hosts per headline verdict over the last scans, as stacked bars in plain SVG.

Drawn on the server (the dashboard runs no script); colours come from the stylesheet's ``fill-<tone>`` classes,
so the page's CSP needs no inline style. Text is escaped by markupsafe.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from auditor.results import VerdictInfo
from auditor.store.models import TrendPoint

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 220, 44, 34, 10


def trend_svg(points: list[TrendPoint], catalogue: dict[str, VerdictInfo]) -> Markup:
    if not points:
        return Markup("")
    verdicts = sorted({v for p in points for v in p.by_verdict},
                      key=lambda v: -(catalogue[v].rank if v in catalogue else 0))
    most = max(max(sum(p.by_verdict.values()), 1) for p in points)
    plot_h, plot_w = HEIGHT - BOTTOM - TOP, WIDTH - LEFT - 10
    step = plot_w / len(points)
    bar = max(4.0, min(48.0, step * 0.7))
    parts = [f'<svg class="trend" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-labelledby="trend-title"><title id="trend-title">Hosts per verdict over the last {len(points)} scans'
             '</title>',
             f'<text class="bar-label" x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{most}</text>',
             f'<text class="bar-label" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 10}" y2="{TOP + plot_h}" stroke="#7a828c"/>']
    for i, point in enumerate(points):
        x = LEFT + i * step + (step - bar) / 2
        y = float(TOP + plot_h)
        for verdict in reversed(verdicts):
            n = point.by_verdict.get(verdict, 0)
            if not n:
                continue
            h = plot_h * n / most
            y -= h
            tone = catalogue[verdict].tone if verdict in catalogue else "none"
            label = _label(verdict, catalogue)
            parts.append(f'<rect class="fill-{tone}" data-verdict="{escape(verdict)}" data-run="{escape(point.run_id)}" '
                         f'x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" stroke="#ffffff"><title>{escape(label)}: {n} '
                         f'({escape(point.started.strftime("%Y-%m-%d %H:%M UTC"))})</title></rect>')
        if len(points) <= 12 or i % max(1, len(points) // 8) == 0 or i == len(points) - 1:
            parts.append(f'<text class="bar-label" x="{x + bar / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
                         f'{escape(point.started.strftime("%m-%d %H:%M"))}</text>')
    parts.append("</svg>")
    legend = "".join(f'<li><span class="swatch tone-{catalogue[v].tone if v in catalogue else "none"}"></span>'
                     f'{escape(_label(v, catalogue))}</li>' for v in verdicts)
    return Markup("".join(parts) + f'<ul class="legend">{legend}</ul>')


def _label(verdict: str, catalogue: dict[str, VerdictInfo]) -> str:
    if verdict == "-":
        return "No verdict (not audited, or no rule decided)"
    return catalogue[verdict].label if verdict in catalogue else verdict
