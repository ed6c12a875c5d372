"""Who may read the dashboard and call the API, and the headers every answer carries.

With a token configured, nothing but ``/healthz`` and the login form answers without it: the API and
``/metrics`` take ``Authorization: Bearer TOKEN``; a browser logs in once (POST /login) and gets an HttpOnly,
SameSite=Strict cookie holding an HMAC of the token (never the token itself). Without a token the server listens
on loopback only (the config refuses anything else), and then it still refuses requests whose Host header is not
a loopback name (DNS rebinding) and cross-site POSTs (a web page cannot start scans through the user's browser).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import parse_qs

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

COOKIE = "auditor_session"
OPEN_PATHS = frozenset({"/healthz", "/login"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
#: The dashboard's pages: no script at all, styles from /static only, forms post to this origin only.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")
MAX_FORM_BYTES = 4096


def session_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"auditor-dashboard-session-v1", hashlib.sha256).hexdigest()


class Guard(BaseHTTPMiddleware):
    def __init__(self, app: object, *, token: Optional[str], loopback_only: bool):
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token
        self.loopback_only = loopback_only

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        refused = self._refuse(request)
        response = refused if refused is not None else await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        if not request.url.path.endswith("/report"):  # a stored HTML report carries its own CSP (script hashes)
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    def _refuse(self, request: Request) -> Optional[Response]:
        if self.token is None and self.loopback_only and _host_name(request) not in LOOPBACK_NAMES:
            return PlainTextResponse("unexpected Host header: this server answers to loopback names only\n", 421)
        if request.method not in ("GET", "HEAD", "OPTIONS") and _cross_site(request):
            return PlainTextResponse("cross-site request refused\n", 403)
        if self.token is None or request.url.path in OPEN_PATHS or self.authorized(request):
            return None
        if request.url.path.startswith("/api/") or request.url.path in ("/metrics", "/openapi.json") or request.method != "GET":
            return JSONResponse({"detail": "authentication required: Authorization: Bearer TOKEN"}, 401,
                                headers={"WWW-Authenticate": 'Bearer realm="auditor"'})
        return RedirectResponse("/login", 303)

    def authorized(self, request: Request) -> bool:
        assert self.token is not None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(self.token).encode())


def _host_name(request: Request) -> str:
    """The Host header without its port (``[::1]:8765`` -> ``[::1]``)."""
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def _cross_site(request: Request) -> bool:
    """A browser says where a request comes from (Sec-Fetch-Site, Origin); tools like curl say nothing."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin.split("://", 1)[-1] != request.headers.get("host", "")


async def login_token(request: Request) -> str:
    """The ``token`` field of a login form (urlencoded, bounded)."""
    body = await request.body()
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    return (fields.get("token") or [""])[0].strip()


def login_response(token: Optional[str], given: str, *, secure: bool) -> Optional[Response]:
    """The redirect that sets the session cookie, or None when ``given`` is not the token."""
    if token is None or not hmac.compare_digest(given.encode(), token.encode()):
        return None
    response = RedirectResponse("/", 303)
    response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict", secure=secure, path="/")
    return response
