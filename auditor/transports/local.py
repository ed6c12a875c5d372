"""The ``local`` transport: scripts run as ``sh -s`` on the machine running auditor.

Each script gets its own process group, so a timeout or an output flood kills the whole tree
(the shell and whatever it started), not just the shell.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from auditor.transports.base import (
    ConnectionSpec,
    ExecResult,
    Transport,
    TransportError,
    TransportTimeout,
    bounded_append,
    register_transport,
)

_CHUNK = 65536


def _consume(fut: "asyncio.Future[Any]") -> None:
    """Mark an abandoned future's outcome as seen (we killed its process on purpose)."""
    if not fut.cancelled():
        fut.exception()


class LocalTransport(Transport):
    shell = "sh"

    def __init__(self, spec: ConnectionSpec):
        super().__init__(spec)

    async def connect(self) -> None:
        """Nothing to open: the machine is already here."""

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        timeout = self.spec.command_timeout if timeout is None else timeout
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                "sh", "-s",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(f"cannot start sh: {exc}") from None
        out, err = bytearray(), bytearray()
        flooded = asyncio.Event()

        async def pump(stream: asyncio.StreamReader, buf: bytearray) -> None:
            while chunk := await stream.read(_CHUNK):
                if bounded_append(buf, chunk, self.spec.max_output):
                    flooded.set()
                    return

        async def feed() -> None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(script.encode("utf-8"))
                await proc.stdin.drain()
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the script exited before reading all of its input

        assert proc.stdout is not None and proc.stderr is not None
        work = asyncio.gather(feed(), pump(proc.stdout, out), pump(proc.stderr, err), proc.wait())
        flood_wait = asyncio.ensure_future(flooded.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {work, flood_wait}
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._kill(proc)
            work.cancel()
            work.add_done_callback(_consume)
            raise
        finally:
            flood_wait.cancel()
        if work not in done:
            self._kill(proc)
            work.cancel()
            work.add_done_callback(_consume)
            await self._reap(proc)
            if not flooded.is_set():
                raise TransportTimeout(f"command did not finish within {timeout:g}s")
        else:
            work.result()
        truncated = flooded.is_set()
        return ExecResult(
            stdout=bytes(out),
            stderr=bytes(err),
            rc=None if truncated else proc.returncode,
            truncated=truncated,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process) -> None:
        """Wait for a killed process, draining its pipes: Python 3.11's wait() returns only once the
        pipes are closed, and a pipe whose reader stopped with a full buffer is paused and never sees EOF."""

        async def discard(stream: asyncio.StreamReader | None) -> None:
            while stream is not None and await stream.read(_CHUNK):
                pass

        try:
            await asyncio.wait_for(asyncio.gather(discard(proc.stdout), discard(proc.stderr), proc.wait()), timeout=10)
        except (asyncio.TimeoutError, asyncio.CancelledError):  # pragma: no cover - reaping is best effort
            pass

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    async def close(self) -> None:
        """Nothing to release."""


register_transport("local", LocalTransport)
