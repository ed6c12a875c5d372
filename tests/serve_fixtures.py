"""``auditor serve`` as a user starts it: a real process on a free loopback port, a real lab fleet, a real store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TypeVar

import yaml

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from tests.notify_receivers import free_port

ROOT = Path(__file__).resolve().parents[1]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
EDGE = str(ROOT / "playbooks" / "edge-nodes.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
T = TypeVar("T")


def fleet_of(scenarios: list[str], faults: dict[int, dict[str, object]] | None = None) -> LabFleet:
    library = {s.name: s for s in load_library()}
    members = name_hosts([library[n] for n in scenarios])
    return LabFleet(members, ports="free", faults={members[i].name: f for i, f in (faults or {}).items()})


def wait_until(what: str, probe: Callable[[], Optional[T]], deadline_s: float = 120, proc: subprocess.Popen | None = None) -> T:
    """Poll ``probe`` until it returns something truthy (a real condition, with a deadline)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"auditor serve exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


class LogLines:
    """The server's stderr, read as it comes (a pipe nobody reads would block the server)."""

    def __init__(self, stream: Any):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        with self._cond:
            assert self._cond.wait_for(lambda: any(text in line for line in self.lines), timeout), \
                f"{text!r} not logged within {timeout}s:\n" + "".join(self.lines[-40:])
            return next(line for line in self.lines if text in line)

    def text(self) -> str:
        self._thread.join(timeout=30)
        with self._cond:
            return "".join(self.lines)


@dataclass
class Served:
    proc: subprocess.Popen
    base: str
    token: Optional[str]
    store_url: str
    config: Path
    log: LogLines

    def request(self, path: str, *, method: str = "GET", token: Optional[str] = "default", data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lowercase names, body); redirects are not followed."""
        token = self.token if token == "default" else token
        req = urllib.request.Request(self.base + path, method=method, data=data, headers=dict(headers or {}))
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def json(self, path: str, **kw: Any) -> Any:
        status, _, body = self.request(path, **kw)
        assert status in (200, 202), (path, status, body[:500])
        return json.loads(body)

    def schedule(self, name: str) -> dict[str, Any]:
        return next(s for s in self.json("/api/schedules") if s["name"] == name)

    def stop(self, timeout: float = 120) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.log.text()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None


def write_config(tmp: Path, schedules: list[dict[str, Any]], *, token: Optional[str] = None,
                 port: Optional[int] = None, extra: dict[str, Any] | None = None) -> tuple[Path, str, int]:
    port = port or free_port()
    store_url = f"sqlite:///{tmp / 'history.db'}"
    config: dict[str, Any] = {"store": store_url, "listen": f"127.0.0.1:{port}", "schedules": schedules, **(extra or {})}
    if token:
        (tmp / "token").write_text(token + "\n")
        config["token_file"] = "token"
    path = tmp / "serve.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, store_url, port


@contextmanager
def serving(tmp: Path, schedules: list[dict[str, Any]], *, token: Optional[str] = None,
            extra: dict[str, Any] | None = None) -> Iterator[Served]:
    config, store_url, port = write_config(tmp, schedules, token=token, extra=extra)
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--config", str(config)], cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    served = Served(proc, f"http://127.0.0.1:{port}", token, store_url, config, LogLines(proc.stderr))

    def healthy() -> bool:
        try:
            return served.request("/healthz", token=None)[0] == 200
        except OSError:
            return False

    try:
        wait_until("the server to answer /healthz", healthy, 60, proc)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def lab_schedule(name: str, inventory: Path, known: Path, **extra: Any) -> dict[str, Any]:
    return {"name": name, "playbooks": [AUDIT, EDGE], "inventory": [str(inventory)], "host_key_checking": "strict",
            "known_hosts": str(known), "report": ["json", "html"], **extra}
