"""The web application of ``auditor serve``: pages, the JSON API, /metrics and /healthz behind the guard."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from auditor import __version__
from auditor.serve import routes_api, routes_pages
from auditor.serve.auth import Guard
from auditor.serve.context import ServeContext
from auditor.serve.metrics import CONTENT_TYPE


def create_app(context: ServeContext) -> FastAPI:
    # no /docs or /redoc: their pages load scripts from a CDN; the OpenAPI document itself is served
    app = FastAPI(title="auditor serve", version=__version__, docs_url=None, redoc_url=None,
                  description="Scheduled compliance scans of the WSL2 mirrored-mode / Docker Desktop conflict: runs, "
                              "hosts, their history, drift between runs, schedules (docs/serve.md).")
    app.state.context = context
    app.add_middleware(Guard, token=context.config.token, loopback_only=context.config.config.loopback_only)
    app.include_router(routes_api.router)
    app.include_router(routes_pages.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(context.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # no icon; answering keeps browsers from logging a 404 on every page

    @app.get("/healthz", summary="Liveness: the process answers and the store can be read")
    def healthz() -> JSONResponse:
        try:
            context.store.list_runs(1)
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            return JSONResponse({"status": "store unavailable", "detail": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    return app
