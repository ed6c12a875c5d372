"""Benchmark: the HTML report of a real audit of the lab, in real Chromium.

The results are those of a real run: either a JSON report you name (``--from-json``, e.g. one a
``python -m bench.run`` left in bench/results/), or one made here: the lab (``bench.labserve``,
``--hosts`` hosts, ``--seed``) is started and audited with ``auditor run`` (both shipped playbooks,
JSON report). Prints the file size and its parts (table records, compressed details), the Python render
time (wall and CPU), and in Chromium: time to the first table rows, heap size, the time to filter to
CONFLICT_CONFIRMED, to search, to sort, to open a host (unpacking its block of details), and the DOM size.
Not a test: figures only.

    .venv/bin/python bench/report_html.py [--hosts 5000] [--seed 1] [--from-json REPORT.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from auditor.report.html import render_html  # noqa: E402
from auditor.report.redact import redact_run  # noqa: E402
from auditor.report.schema import load_report  # noqa: E402
from auditor.report.stream import HostStream, streamed_run  # noqa: E402
from auditor.report.writers import write_reports  # noqa: E402
from bench.common import BIN, PLAYBOOKS, ROOT, raise_nofile  # noqa: E402
from bench.run import Lab  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# Runs in the page: time from an action to the table being re-drawn (measured inside the page, so the
# Playwright round trip does not count).
_TIMED = """([sel, kind, value]) => {
  const t0 = performance.now();
  const el = document.querySelector(sel);
  if (kind === 'select') { el.value = value; el.dispatchEvent(new Event('change')); }
  else if (kind === 'click') { el.click(); }
  return performance.now() - t0;
}"""


# Types into the search box and resolves when the "Showing ..." line changes.
_SEARCH = """(text) => new Promise(resolve => {
  const shown = document.getElementById('shown'), i = document.getElementById('f-text');
  const t0 = performance.now();
  new MutationObserver((_, obs) => { obs.disconnect(); resolve(performance.now() - t0); })
    .observe(shown, {childList: true, characterData: true, subtree: true});
  i.value = text; i.dispatchEvent(new Event('input'));
})"""


# Opens the first host in the table and resolves when its details are drawn (their block unpacked if need be).
_EXPAND = """() => new Promise(resolve => {
  const body = document.getElementById('host-rows'), t0 = performance.now();
  const done = () => { const d = body.querySelector('tr.detail'); return d && !d.querySelector('.loading'); };
  const obs = new MutationObserver(() => { if (done()) { obs.disconnect(); resolve(performance.now() - t0); } });
  obs.observe(body, {childList: true, subtree: true});
  body.querySelector('button.toggle').click();
  if (done()) { obs.disconnect(); resolve(performance.now() - t0); }
})"""


def audit_lab(hosts: int, seed: int, workdir: Path) -> Path:
    """Serve the lab, audit it with ``auditor run`` (JSON report), stop the lab; the report's path."""
    raise_nofile()
    lab = Lab(hosts, seed, workdir, with_faults=False)
    try:
        lab.wait_ready()
        out = workdir / "reports"
        proc = subprocess.run([str(BIN / "auditor"), "run", *map(str, PLAYBOOKS), "-i", str(lab.inventory), "--report",
                               "json", "-o", str(out), "-q"], cwd=ROOT)
        if proc.returncode not in (0, 2):
            raise SystemExit(f"auditor run of the lab exited with {proc.returncode}")
    finally:
        lab.stop()
    return sorted(out.glob("auditor-*.json"))[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000, help="lab fleet size to audit (without --from-json)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--from-json", type=Path, help="the JSON report of a real audit to render")
    parser.add_argument("--keep", type=Path, help="write the report here instead of a temporary folder")
    parser.add_argument("--opens", type=int, default=5, help="open the page this many times more, each in a fresh "
                        "page, and print the spread of the time to the first rows")
    args = parser.parse_args()

    source = args.from_json or audit_lab(args.hosts, args.seed, Path(tempfile.mkdtemp(prefix="auditor-bench-lab-")))
    t0 = time.perf_counter()
    run = load_report(source)
    t_build = time.perf_counter() - t0
    c0 = time.process_time()
    redacted = redact_run(run)
    c_scrub = time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    text = render_html(redacted)
    t_render, c_render = time.perf_counter() - t0, time.process_time() - c0
    out = args.keep or Path(tempfile.mkdtemp(prefix="auditor-bench-"))
    t0, c0 = time.perf_counter(), time.process_time()
    paths = {p.suffix: p for p in write_reports(run, ["html"], out)}
    t_write, c_write = time.perf_counter() - t0, time.process_time() - c0
    # as `auditor run` / `auditor report --run` write it: hosts streamed from the history store, scrubbed when stored
    streamed = streamed_run(redacted.model_copy(update={"hosts": []}), HostStream(lambda: iter(redacted.hosts),
                                                                                   len(redacted.hosts), redacted=True))
    t0, c0 = time.perf_counter(), time.process_time()
    write_reports(streamed, ["html"], Path(tempfile.mkdtemp(prefix="auditor-bench-streamed-")))
    t_stream, c_stream = time.perf_counter() - t0, time.process_time() - c0
    paths.update({p.suffix: p for p in write_reports(run, ["json"], out)})
    html = paths[".html"]
    data = re.search(r'<script type="application/json" id="auditor-data">(.*?)</script>', text, re.S)
    blocks = re.findall(r'<script type="application/octet-stream" id="auditor-details-\d+">([^<]*)</script>', text)
    unpacked = sum(len(gzip.decompress(base64.b64decode(b))) for b in blocks)
    print(f"results of                {source}")
    print(f"hosts                     {len(run.hosts)}")
    print(f"checks                    {sum(len(h.all_checks()) for h in run.hosts)}")
    print(f"load JSON report          {t_build:.2f} s")
    print(f"secret scrub (redact_run) {c_scrub:.2f} s CPU (skipped for hosts the history store scrubbed: auditor run, report --run)")
    print(f"render_html (python)      {t_render:.2f} s wall, {c_render:.2f} s CPU ({c_render / len(run.hosts) * 5000:.2f} s CPU per 5,000 hosts)")
    print(f"write_reports html        {t_write:.2f} s wall, {c_write:.2f} s CPU (scrub, render, limit files, write: "
          "`auditor report FILE.json`)")
    print(f"write_reports html (CLI)  {t_stream:.2f} s wall, {c_stream:.2f} s CPU ({c_stream / len(run.hosts) * 5000:.2f} s CPU per 5,000 "
          "hosts; a streamed run of hosts scrubbed when stored, as the CLI writes it, the store's read aside)")
    print(f"html size                 {html.stat().st_size / 1e6:.2f} MB (json report {paths['.json'].stat().st_size / 1e6:.2f} MB)")
    print(f"  table records           {len(data.group(1).encode()) / 1e6:.2f} MB" if data else "  table records           ?")
    print(f"  details blocks          {sum(map(len, blocks)) / 1e6:.2f} MB in {len(blocks)} blocks "
          f"({unpacked / 1e6:.1f} MB of JSON unpacked)")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        t0 = time.perf_counter()
        page.goto(html.as_uri(), wait_until="commit")
        page.wait_for_selector("#host-rows tr.host")
        t_rows = time.perf_counter() - t0
        page.wait_for_load_state("load")
        t_load = time.perf_counter() - t0
        page.wait_for_selector("html[data-details=ready], html[data-details=lazy], html[data-details=failed]", state="attached")
        t_details = time.perf_counter() - t0
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
          const p = performance.getEntriesByName('first-contentful-paint')[0];
          return [n.domContentLoadedEventEnd, n.loadEventEnd, p ? p.startTime : NaN]; }""")
        print(f"chromium: goto -> rows    {t_rows * 1000:.0f} ms (first contentful paint {nav[2]:.0f} ms, DOMContentLoaded "
              f"{nav[0]:.0f} ms, load {nav[1]:.0f} ms in page; goto -> load {t_load * 1000:.0f} ms)")
        print(f"chromium: details         {page.evaluate('document.documentElement.dataset.details')!r} after {t_details * 1000:.0f} ms "
              "('ready': every block unpacked in the background; 'lazy': on demand)")
        print(f"chromium: JS heap used    {metrics['JSHeapUsedSize'] / 1e6:.1f} MB")
        print(f"chromium: DOM nodes       {int(metrics['Nodes'])} (rows drawn {page.locator('#host-rows tr.host').count()})")
        ms = page.evaluate(_TIMED, ["#f-verdict", "select", "CONFLICT_CONFIRMED"])
        print(f"filter CONFLICT_CONFIRMED {ms:.1f} ms -> {page.locator('#shown').inner_text()}")
        ms = page.evaluate(_TIMED, ["#f-verdict", "select", ""])
        print(f"clear filter              {ms:.1f} ms")
        ms = page.evaluate(_TIMED, ['th[data-sort="name"] button', "click", None])
        print(f"sort by name              {ms:.1f} ms")
        ms = page.evaluate(_SEARCH, "edge-")
        print(f"search 'edge-'            {ms:.1f} ms (includes the 120 ms typing debounce) -> {page.locator('#shown').inner_text()}")
        page.evaluate(_SEARCH, "")
        state = page.evaluate("document.documentElement.dataset.details || 'none'")
        ms = page.evaluate(_EXPAND)
        print(f"open a host               {ms:.1f} ms (details were {state!r} before: 'lazy' = unpacked on demand)")
        ms = page.evaluate(_TIMED, ["#more", "click", None]) if page.locator("#more").is_visible() else float("nan")
        print(f"show 200 more rows        {ms:.1f} ms")
        opens = []
        for _ in range(args.opens):
            fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            fresh.goto(html.as_uri(), wait_until="commit")
            fresh.wait_for_selector("#host-rows tr.host")
            opens.append((time.perf_counter() - t0) * 1000)
            fresh.close()
        if opens:
            opens.sort()
            print(f"chromium: {len(opens)} more opens  goto -> rows min {opens[0]:.0f} / median {opens[len(opens) // 2]:.0f} / "
                  f"max {opens[-1]:.0f} ms")
        print(f"requests                  {len(requests)} ({'only the file itself' if requests == [html.as_uri()] else requests[:3]})")
        browser.close()
    print(f"report                    {html}")


if __name__ == "__main__":
    main()
