"""Opening a report in Chromium with every request, console message and page error recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Opened:
    page: Any
    run: Any
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def clean(self) -> bool:
        """No request but the report itself, no script error, no console error."""
        return (self.requests == [self.url] and self.errors == []
                and [c for c in self.console if c[0] == "error"] == [])


def open_report(browser, run: Any, url: str, **context_args) -> Opened:
    context = browser.new_context(**context_args)
    page = context.new_page()
    opened = Opened(page, run, url)
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("console", lambda m: opened.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    # Anything but the report itself would leave the page: refuse it (and the test sees it in `requests`).
    context.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
    page.goto(url)
    page.wait_for_selector("#host-rows tr.host")
    # details travel compressed; a small run's are unpacked in the background once the table is drawn
    page.wait_for_selector("html[data-details=ready], html[data-details=lazy], html[data-details=failed]", state="attached")
    return opened


def row_names(page) -> list[str]:
    return page.eval_on_selector_all("#host-rows tr.host", "rows => rows.map(r => r.getAttribute('data-host'))")


#: Every visible text element whose colour contrast against its background is below 4.5:1 (WCAG AA).
CONTRAST_JS = """
() => {
  function rgb(s) { const m = s.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
  function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
  function bg(el) { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0.5) return c; }
                    return {r: 255, g: 255, b: 255, a: 1}; }
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!el.offsetParent || !Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.closest('svg')) continue;
    const l1 = lum(rgb(getComputedStyle(el).color)), l2 = lum(bg(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName + '.' + el.className + ' ' + ratio.toFixed(2) + ' ' + el.textContent.slice(0, 30));
  }
  return bad;
}
"""
