"""The JSON API (``/api/...``), described by the OpenAPI document at ``/openapi.json``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from auditor.errors import BadInputError
from auditor.history.diff import RunDiff
from auditor.serve import views
from auditor.serve.context import ServeContext
from auditor.store import RunListing, RunState, StoreMissing

router = APIRouter(prefix="/api", tags=["api"])


class ScheduleInfo(BaseModel):
    name: str
    trigger: str = Field(description="'cron: <fields> <time zone>' or 'every: <interval>'")
    next_run: Optional[datetime] = None
    running: Optional[str] = Field(None, description="the run id of the scan in flight")
    last_run: Optional[str] = None
    last_exit_code: Optional[int] = None
    last_success: Optional[datetime] = None
    skipped: list[dict[str, Any]] = Field(default_factory=list, description="recent skipped starts: at, reason")
    runs: list[str] = Field(default_factory=list, description="run ids this server started, newest first")


class RunDetail(BaseModel):
    run: RunListing
    hosts: list[views.HostRow]


class HostList(BaseModel):
    run_id: Optional[str]
    hosts: list[views.HostRow]


class Triggered(BaseModel):
    schedule: str
    started: bool


def ctx(request: Request) -> ServeContext:
    context: ServeContext = request.app.state.context
    return context


def schedule_infos(context: ServeContext) -> list[ScheduleInfo]:
    out = []
    for schedule in context.config.config.schedules:
        state = context.runner.states[schedule.name]
        trigger = f"cron: {schedule.cron} {schedule.timezone}" if schedule.cron else f"every: {schedule.every}"
        if schedule.jitter:
            trigger += f" (jitter {schedule.jitter})"
        out.append(ScheduleInfo(
            name=schedule.name, trigger=trigger, next_run=context.schedules.next_run(schedule.name),
            running=state.current.run_id if state.current else None,
            last_run=state.last.run_id if state.last else None,
            last_exit_code=state.last.exit_code if state.last else None, last_success=state.last_success,
            skipped=[{"at": s.at.isoformat(), "reason": s.reason} for s in reversed(state.skipped)],
            runs=list(reversed(state.runs))))
    return out


def _missing(exc: Exception) -> HTTPException:
    return HTTPException(404, str(exc))


@router.get("/runs", response_model=list[RunListing], summary="Runs, newest first")
def list_runs(request: Request, limit: int = 50, kind: Optional[str] = None,
              state: Optional[RunState] = None) -> list[RunListing]:
    return ctx(request).store.list_runs(max(1, min(limit, 1000)), kind=kind, state=state)


@router.get("/runs/{run_id}", response_model=RunDetail, summary="One run: its counts and hosts")
def run_detail(request: Request, run_id: str) -> RunDetail:
    try:
        listing, rows = views.run_detail(ctx(request).store, run_id)
    except StoreMissing as exc:
        raise _missing(exc) from None
    return RunDetail(run=listing, hosts=rows)


@router.get("/hosts", response_model=HostList, summary="Hosts of a run (default: the newest complete audit)")
def hosts(request: Request, run: Optional[str] = None, q: str = "", verdict: str = "", status: str = "") -> HostList:
    try:
        run_id, rows = views.host_rows(ctx(request).store, run)
    except StoreMissing as exc:
        raise _missing(exc) from None
    return HostList(run_id=run_id, hosts=views.filter_rows(rows, query=q, verdict=verdict, status=status))


@router.get("/hosts/{host}/history", response_model=views.HostDetail,
            summary="A host's verdict timeline, newest result and file changes")
def host_history(request: Request, host: str, runs: int = views.TIMELINE_RUNS) -> views.HostDetail:
    detail = views.host_detail(ctx(request).store, host, runs=max(1, min(runs, 500)))
    if detail.result is None:
        raise HTTPException(404, f"no stored audit holds host {host!r}")
    return detail


@router.get("/diff", response_model=RunDiff, summary="What changed between two runs (default: the last two audits)")
def diff(request: Request, old: Optional[str] = None, new: Optional[str] = None) -> RunDiff:
    try:
        return views.diff(ctx(request).store, old, new)
    except StoreMissing as exc:
        raise _missing(exc) from None


@router.get("/fleet", response_model=views.FleetNow, summary="The fleet now: counts, trend, changes")
def fleet(request: Request) -> views.FleetNow:
    return views.fleet_now(ctx(request).store)


@router.get("/schedules", response_model=list[ScheduleInfo], summary="Schedules and their recent scans")
def schedules(request: Request) -> list[ScheduleInfo]:
    return schedule_infos(ctx(request))


@router.post("/schedules/{name}/run", response_model=Triggered, status_code=202,
             summary="Start a scan of a schedule now", responses={404: {}, 409: {"description": "a scan is running"}})
def run_now(request: Request, name: str) -> Any:
    context = ctx(request)
    if name not in context.runner.states:
        raise HTTPException(404, f"no schedule named {name!r}")
    if not context.schedules.run_now(name):
        return JSONResponse({"detail": f"a scan of {name!r} is already running"}, 409)
    return Triggered(schedule=name, started=True)


@router.get("/waivers", response_model=list[views.WaiverRow], summary="Waivers in force in the schedules' waiver files")
def waivers(request: Request) -> list[views.WaiverRow]:
    context = ctx(request)
    try:
        return views.waiver_rows(context.waiver_files(), today=date.today(),
                                 warning_days=context.config.config.waiver_warning_days)
    except BadInputError as exc:
        raise HTTPException(500, str(exc)) from None
