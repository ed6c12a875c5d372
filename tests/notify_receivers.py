"""Real receivers on loopback for the notification tests: an HTTP(S) server that records every request and
answers from a script, and an SMTP server (aiosmtpd) that records every mail. No sleeps: a request is
recorded before it is answered, so when ``deliver`` returns, everything it sent is here."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False   # do not answer until the test ends (the client's timeout fires)


class HttpRecorder:
    """Answers requests with ``script`` in order, then with ``default``."""

    def __init__(self, script: list[Answer] | None = None, default: Answer | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.script = list(script or [])
        self.default = default or Answer()
        self.received: list[Received] = []
        self.release = threading.Event()
        self._lock = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder._lock:
                    recorder.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    answer = recorder.script.pop(0) if recorder.script else recorder.default
                    recorder._lock.notify_all()
                if answer.hang:
                    recorder.release.wait()
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that rejects our certificate ends its handshake: expected in the TLS tests

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.server.server_address[1]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Block until ``count`` requests have arrived (a deadline only against a hung test)."""
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.received) >= count, timeout), self.received

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @contextmanager
    def running(self) -> Iterator[HttpRecorder]:
        thread = threading.Thread(target=self.server.serve_forever, name="http-recorder", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            self.server.shutdown()
            self.server.server_close()
            thread.join()


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None


class MailRecorder:
    """aiosmtpd's handler: records mails; the first ``defer`` ones are answered 451 (try again later)."""

    def __init__(self, defer: int = 0) -> None:
        self.defer = defer
        self.mails: list[Mail] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.defer > 0:
            self.defer -= 1
            return "451 4.3.0 try again later"
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content,
                               login))
        return "250 2.0.0 OK"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = auth_data.password == b"s3cret-smtp-pass"
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(handler: MailRecorder, **kwargs: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
