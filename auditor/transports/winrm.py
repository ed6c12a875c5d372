"""The ``winrm`` transport: one WinRS shell per host, every script a ``powershell`` command on it.

The WS-Management work is an ``Engine`` (auditor/transports/winrm_engine.py): by default the native
asyncio client (``winrm_native``, auditor/transports/wsman/), or pywinrm in a thread pool
(``winrm_pywinrm``) when a host sets ``auditor_winrm_client: pywinrm``. ``connect``
opens ONE shell; every ``run`` reuses it (a shell per command costs 2-3x more).

A script runs as ``powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand
<base64 UTF-16LE>``. cmd.exe, which WinRS starts commands through, caps a command line at 8191
characters; a longer script is sent on stdin instead: a small fixed bootstrap goes in
``-EncodedCommand`` and the script follows as base64 lines through WinRS ``Send``.

Transient faults (connection reset, read timeout, the WinRM operations quota) are retried a
bounded number of times (``auditor_winrm_retries``, default 2) within the command's deadline,
with a fresh shell. See docs/winrm.md for the options and outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from typing import Any, Callable

from auditor.transports.base import (
    ConnectionSpec,
    ExecResult,
    Transport,
    TransportTimeout,
    bounded_append,
    register_transport,
)
from auditor.transports.winrm_clixml import clixml_to_text
from auditor.transports.winrm_engine import Engine, StillRunning, Transient
from auditor.transports.winrm_native import NativeEngine  # the default engine: imported with the transport
from auditor.transports.winrm_options import WinrmOptions, resolved_winrm

CMDLINE_LIMIT = 8191               # cmd.exe's command-line limit
SEND_CHUNK = 64 * 1024             # base64 bytes of script per WinRS Send (well under MaxEnvelopeSize)
PS_PREFIX = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass"]
# Reads base64 lines from stdin, decodes them as UTF-8 and runs the result as a script block.
STDIN_BOOTSTRAP = (
    "$_aud_b64 = (@($input) -join '').Trim(); "
    "$_aud_src = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_aud_b64)); "
    "& ([ScriptBlock]::Create($_aud_src))"
)


def encode_command(script: str) -> tuple[list[str], bytes | None]:
    """(powershell arguments, stdin or None) for ``script``."""
    b64 = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    args = [*PS_PREFIX, "-EncodedCommand", b64]
    if len("powershell " + " ".join(args)) <= CMDLINE_LIMIT:
        return args, None
    boot = base64.b64encode(STDIN_BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    data = base64.b64encode(script.encode("utf-8"))
    return [*PS_PREFIX, "-EncodedCommand", boot], data


def new_engine(spec: ConnectionSpec, opts: WinrmOptions) -> Engine:
    """The engine ``opts`` call for (pywinrm and requests are imported only when a host needs them)."""
    if opts.client == "pywinrm":
        from auditor.transports.winrm_pywinrm import PywinrmEngine

        return PywinrmEngine(spec, opts)
    return NativeEngine(spec, opts)


class WinrmTransport(Transport):
    shell = "powershell"

    def __init__(self, spec: ConnectionSpec):
        super().__init__(spec)
        self.opts: WinrmOptions | None = None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.opts = self.opts or resolved_winrm(self.spec)
            self._engine = new_engine(self.spec, self.opts)
        return self._engine

    async def _open(self, deadline: float) -> None:
        if self.engine.shell_id is None:
            await self.engine.open_shell(deadline)

    async def _with_retries(self, attempt: Callable[[float], Any], deadline: float) -> Any:
        assert self.opts is not None
        tries = 0
        while True:
            try:
                return await attempt(deadline)
            except Transient as t:
                tries += 1
                if tries > self.opts.retries or time.monotonic() + 0.1 * tries >= deadline:
                    self.engine.drop()
                    raise t.final from None
                if t.new_session:
                    self.engine.drop()
                else:
                    try:  # the shell is being replaced anyway
                        await self.engine.delete_shell(time.monotonic() + 5)
                    except Exception:  # noqa: BLE001
                        pass
                await asyncio.sleep(0.1 * tries)  # brief back-off before the next try

    # --- the Transport interface ---------------------------------------------------------------

    async def connect(self) -> None:
        self.opts = resolved_winrm(self.spec)
        deadline = time.monotonic() + self.spec.connect_timeout
        await self._with_retries(self._open, deadline)

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        if self.opts is None:
            await self.connect()
        timeout = self.spec.command_timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = started + timeout
        args, stdin = encode_command(script)
        result: ExecResult = await self._with_retries(lambda d: self._run_once(args, stdin, d), deadline)
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    async def _run_once(self, args: list[str], stdin: bytes | None, deadline: float) -> ExecResult:
        await self._open(deadline)
        engine = self.engine
        assert self.opts is not None
        command_id = await engine.command(args, stdin is None, deadline)
        if stdin is not None:
            for i in range(0, len(stdin), SEND_CHUNK):
                await engine.send(command_id, stdin[i:i + SEND_CHUNK] + b"\r\n", i + SEND_CHUNK >= len(stdin), deadline)
        out, err = bytearray(), bytearray()
        truncated, rc = False, None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self._stop_command(command_id)
                raise TransportTimeout(f"WinRM command on {engine.where} did not finish in time")
            # Each Receive waits at most the time left, so the deadline holds.
            op_timeout = max(1, min(self.opts.operation_timeout, math.ceil(remaining)))
            try:
                o, e, code, done = await engine.receive(command_id, op_timeout, deadline)
            except StillRunning:
                continue  # still running: ask again until the deadline
            cut = bounded_append(out, o, self.spec.max_output)
            cut = bounded_append(err, e, self.spec.max_output) or cut
            if cut:
                truncated = True
                await self._stop_command(command_id)
                break
            if done:
                # A finished command needs no Signal(terminate): deleting the shell frees it, and
                # skipping it saves one HTTP round trip (about a tenth of a host's requests).
                rc = code
                break
        return ExecResult(bytes(out), clixml_to_text(bytes(err)), rc, truncated)

    async def _stop_command(self, command_id: str) -> None:
        """Signal terminate (frees the command on the host); best effort, briefly."""
        try:
            await self.engine.signal_terminate(command_id, time.monotonic() + 5)
        except Exception:  # noqa: BLE001 - the result is already known
            pass

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is None:
            return
        try:
            await engine.close(time.monotonic() + 5)
        except Exception:  # noqa: BLE001 - close must not raise
            pass


register_transport("winrm", WinrmTransport)
