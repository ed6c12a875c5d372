"""The dashboard's pages: rendered on the server with Jinja2 (autoescape on), no script, the report's look.

Filters and search are plain GET forms, so every view has a URL to share; the trend chart is SVG drawn here.
"""

from __future__ import annotations

import functools
from datetime import date
from importlib import resources
from typing import Any, Optional

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response

from auditor import __version__
from auditor.errors import BadInputError
from auditor.serve import auth, views
from auditor.serve.chart import trend_svg
from auditor.serve.context import ServeContext
from auditor.serve.routes_api import ctx, schedule_infos
from auditor.store import StoreMissing

router = APIRouter(include_in_schema=False)
PAGE_ROWS = 200
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("auditor.serve", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_STATUS_TONE = {"ok": "ok", "failed": "conflict", "unreachable": "down", "auth_failed": "down", "timeout": "down",
                "error": "down", "interrupted": "none"}


def _tone(verdict: Optional[str]) -> str:
    info = views.labels().get(verdict or "")
    return str(info.tone) if info is not None else "none"


_ENV.globals.update(label_of=views.label_of, tone_of=_tone, status_tone=lambda s: _STATUS_TONE.get(s, "none"),
                    version=__version__)


def _page(request: Request, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    context: Optional[ServeContext] = getattr(request.app.state, "context", None)
    html = _ENV.get_template(template).render(path=request.url.path, logged_in=bool(context and context.config.token),
                                              **values)
    return HTMLResponse(html, code)


@functools.cache
def _stylesheet() -> str:
    """The report's stylesheet and the dashboard's own parts, read once per process."""
    report = resources.files("auditor.report") / "templates" / "report.css"
    return report.read_text("utf-8") + (resources.files("auditor.serve") / "templates" / "dashboard.css").read_text("utf-8")


@router.get("/static/dashboard.css")
def stylesheet() -> Response:
    return Response(_stylesheet(), media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/", response_class=HTMLResponse)
def fleet(request: Request) -> HTMLResponse:
    context = ctx(request)
    now = views.fleet_now(context.store)
    changes = []
    if now.changes is not None:
        changes = [h for h in now.changes.hosts if h.change in views.CHANGE_ORDER]
    return _page(request, "fleet.html.j2", title="Fleet now", now=now, changes=changes,
                 change_counts={c.value: now.changes.counts.get(c.value, 0) for c in views.CHANGE_ORDER} if now.changes else {},
                 chart=trend_svg(now.trend, views.labels()), schedules=schedule_infos(context))


@router.get("/hosts", response_class=HTMLResponse)
def hosts(request: Request, q: str = "", verdict: str = "", status: str = "", page: int = 1) -> HTMLResponse:
    run_id, every = views.host_rows(ctx(request).store)  # one read: the filter's choices come from every host
    rows = views.filter_rows(every, query=q, verdict=verdict, status=status)
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = max(1, min(page, pages))
    verdicts = sorted({r.verdict or "-" for r in every})
    return _page(request, "hosts.html.j2", title="Hosts", run_id=run_id, total=len(rows), page=page, pages=pages,
                 rows=rows[(page - 1) * PAGE_ROWS:page * PAGE_ROWS], q=q, verdict=verdict, status=status,
                 verdicts=verdicts)


@router.get("/hosts/{host}", response_class=HTMLResponse)
def host(request: Request, host: str) -> HTMLResponse:
    detail = views.host_detail(ctx(request).store, host)
    if detail.result is None:
        return _page(request, "message.html.j2", 404, title="Host not found",
                     message=f"No stored audit holds a host named {host!r}.")
    return _page(request, "host.html.j2", title=f"Host {host}", d=detail)


@router.get("/runs", response_class=HTMLResponse)
def runs(request: Request) -> HTMLResponse:
    context = ctx(request)
    listings = context.store.list_runs(100)
    reports = {r.id: views.report_file(context.report_folders(), r.id) is not None for r in listings}
    started_by = {run_id: name for name, state in context.runner.states.items() for run_id in state.runs}
    return _page(request, "runs.html.j2", title="Runs", runs=listings, reports=reports, started_by=started_by)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run(request: Request, run_id: str) -> HTMLResponse:
    context = ctx(request)
    try:
        listing, rows = views.run_detail(context.store, run_id)
    except StoreMissing as exc:
        return _page(request, "message.html.j2", 404, title="Run not found", message=str(exc))
    has_report = views.report_file(context.report_folders(), listing.id) is not None
    return _page(request, "run.html.j2", title=f"Run {listing.id}", run=listing, rows=[r for r in rows if r.needs_action],
                 has_report=has_report)


@router.get("/runs/{run_id}/report")
def run_report(request: Request, run_id: str) -> Response:
    context = ctx(request)
    try:
        record = context.store.get_run(run_id)
    except StoreMissing as exc:
        return PlainTextResponse(str(exc) + "\n", 404)
    path = views.report_file(context.report_folders(), record.id)
    if path is None:
        return PlainTextResponse(f"run {record.id} has no HTML report in the schedules' report folders\n", 404)
    return FileResponse(path, media_type="text/html; charset=utf-8")


@router.get("/waivers", response_class=HTMLResponse)
def waivers(request: Request) -> HTMLResponse:
    context = ctx(request)
    try:
        rows = views.waiver_rows(context.waiver_files(), today=date.today(),
                                 warning_days=context.config.config.waiver_warning_days)
        problem = None
    except BadInputError as exc:
        rows, problem = [], str(exc)
    return _page(request, "waivers.html.j2", title="Waivers", rows=rows, problem=problem,
                 days=context.config.config.waiver_warning_days)


@router.post("/schedules/{name}/run")
def run_now(request: Request, name: str) -> Response:
    context = ctx(request)
    if name in context.runner.states:
        context.schedules.run_now(name)
    return RedirectResponse("/", 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html.j2", title="Log in", failed=False)


@router.post("/login")
async def login(request: Request) -> Response:
    context = ctx(request)
    given = await auth.login_token(request)
    response = auth.login_response(context.config.token, given, secure=request.url.scheme == "https")
    return response if response is not None else _page(request, "login.html.j2", 401, title="Log in", failed=True)
