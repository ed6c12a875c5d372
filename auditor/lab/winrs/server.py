"""One simulated Windows host's WinRM listener: HTTP/1.1 keep-alive, auth, and the WinRS shell actions.

Each connection is served by its own task; commands run in a worker thread (the host model may be
slow) and their ``delay`` passes on the event loop, so one slow or hung host never holds up another.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import socket
import ssl
import struct
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field

from auditor.lab.winrs import soap
from auditor.lab.winrs.auth import AuthConfig, ConnectionAuth
from auditor.lab.winrs.model import CommandOutcome, WindowsHostModel
from auditor.transports.wsman import sealing

log = logging.getLogger(__name__)
QUOTA_MAX_SHELLS = 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS

MAX_HEADER = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
CHUNK = 64 * 1024  # bytes per stream per Receive, like a real MaxEnvelopeSize would cut them


@dataclass
class Faults:
    """Per-host fault knobs."""

    wrong_password: bool = False     # the host's account has another password: every login fails
    refused: bool = False            # nothing listens on the host's address: connections are refused
    slow: float = 0.0                # seconds added before every reply
    hang: bool = False               # read requests, never answer
    reset: bool = False              # reset the connection instead of answering, every time
    reset_first: int = 0             # reset only the first N requests (a transient fault)
    quota_after: int | None = None   # Command faults with ERROR_WSMAN_QUOTA_MAX_OPERATIONS after N per shell
    garbage: bool = False            # authenticate, then answer every SOAP request with bytes that are not XML
    hostile: str | None = None       # refuse to open a shell with a WS-Management fault carrying this text
    max_envelope_kb: int | None = None  # a lowered MaxEnvelopeSizekb: larger requests get HTTP 413
    max_shells: int | None = None    # MaxShellsPerUser: Create faults (HTTP 500, QUOTA_MAX_SHELLS) beyond it


@dataclass
class WinrsHostConfig:
    """One simulated host. ``address``/``port`` are filled in by the fleet when left empty."""

    name: str
    address: str = ""
    port: int | None = None                   # default 5985 (http) / 5986 (https); 0 = any free port
    scheme: str = "http"
    user: str = "auditor"
    password: str = field(default="Lab-Passw0rd!", repr=False)
    auth: frozenset[str] = frozenset({"basic", "ntlm", "certificate"})  # also: kerberos, credssp
    model: WindowsHostModel | None = None      # default: WindowsHostModel(hostname=name)
    keytab: str | None = None                  # kerberos: the host's HTTP/<name> key
    faults: Faults = field(default_factory=Faults)
    # Windows' default (AllowUnencrypted=false): over HTTP a SOAP body must be sealed (NTLM message
    # encryption); a plain one is refused with 401.
    require_encryption: bool = False

    def default_port(self) -> int:
        return 5986 if self.scheme == "https" else 5985


class _Command:
    def __init__(self, command_id: str, command: str, arguments: list[str]):
        self.id = command_id
        self.command = command
        self.arguments = arguments
        self.stdin = bytearray()
        self.task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.outcome = CommandOutcome()
        self.sent_out = 0
        self.sent_err = 0


@dataclass
class _Shell:
    id: str
    commands: dict[str, _Command] = field(default_factory=dict)
    count: int = 0


class _HttpRequest:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes):
        self.method, self.path, self.headers, self.body = method, path, headers, body


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise ValueError("header too large") from None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > MAX_BODY:
        raise ValueError("body too large")
    body = await reader.readexactly(length) if length else b""
    return _HttpRequest(method, path, headers, body)


def _http_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Request Entity Too Large",
              500: "Internal Server Error"}
    out = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}", "Server: Microsoft-HTTPAPI/2.0",
           f"Date: {email.utils.formatdate(usegmt=True)}", f"Content-Length: {len(body)}"]
    out += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body


class WinrsHostServer:
    """The listener of one host. Use through ``WinrsFleet``."""

    def __init__(self, config: WinrsHostConfig, executor: Executor, ntlm_user_file: str | None,
                 ssl_context: ssl.SSLContext | None, channel_bindings: bytes | None = None):
        self.config = config
        self.model = config.model or WindowsHostModel(hostname=config.name, user=config.user)
        password = config.password + ("-rotated" if config.faults.wrong_password else "")
        self.auth_config = AuthConfig(config.user, password, config.auth, ntlm_user_file, config.keytab)
        self.channel_bindings = channel_bindings  # tls-server-end-point of the listener's certificate
        self.executor = executor
        self.ssl_context = ssl_context
        self.shells: dict[str, _Shell] = {}
        self.port: int = config.port if config.port is not None else config.default_port()
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._resets_left = config.faults.reset_first

    async def start(self) -> None:
        if self.config.faults.refused:
            return  # nothing listens: the address refuses connections
        self._server = await asyncio.start_server(
            self._serve, host=self.config.address, port=self.port, ssl=self.ssl_context,
            reuse_address=True, backlog=256, limit=MAX_HEADER,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        for shell in self.shells.values():
            for cmd in shell.commands.values():
                if cmd.task:
                    cmd.task.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # --- connections -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Without TCP_NODELAY every reply waits for the client's delayed ACK (~40-200 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        auth = ConnectionAuth(self.auth_config, writer.get_extra_info("peercert") or None, self.channel_bindings)
        faults = self.config.faults
        try:
            while True:
                req = await _read_request(reader)
                if req is None:
                    break
                if faults.reset or self._resets_left > 0:
                    self._resets_left = max(0, self._resets_left - 1)
                    self._reset(writer, sock)
                    return
                if faults.hang:
                    await reader.read()  # until the client gives up
                    return
                if faults.slow:
                    await asyncio.sleep(faults.slow)
                writer.write(await self._respond(req, auth))
                await writer.drain()
        except (ConnectionError, ValueError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the fleet is stopping: end this connection quietly
        finally:
            self._conns.discard(task)
            writer.close()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter, sock: socket.socket | None) -> None:
        if sock is not None:  # linger 0: close sends RST, the client sees "connection reset by peer"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _respond(self, req: _HttpRequest, auth: ConnectionAuth) -> bytes:
        if req.method != "POST" or req.path.split("?")[0].lower() != "/wsman":
            return _http_response(404, [], b"")
        result = auth.check(req.headers.get("authorization"))
        if not result.ok:
            return _http_response(401, [("WWW-Authenticate", c) for c in result.challenge], b"")
        # Kerberos: the host proves itself in the reply to the request that carried the ticket
        mutual = [("WWW-Authenticate", result.final)] if result.final else []
        limit = self.config.faults.max_envelope_kb
        if limit is not None and len(req.body) > limit * 1024:
            return _http_response(413, mutual, b"")
        sealed = sealing.is_sealed(req.headers.get("content-type", ""))
        body = req.body
        if body and not sealed and self.config.require_encryption and self.config.scheme == "http":
            return _http_response(401, [("WWW-Authenticate", c) for c in auth.default_challenge()], b"")
        if sealed:
            if not auth.can_seal:
                return _http_response(400, [], b"")
            body = auth.unseal(body)
        if not body:
            return _http_response(200, mutual, b"")  # clients post empty bodies to set up the context
        if self.config.faults.garbage:
            junk = b"\x00\xff<not-soap>\x1b[31m" + bytes(range(256))
            if sealed:
                payload, ctype = auth.seal(junk)
                return _http_response(200, [*mutual, ("Content-Type", ctype)], payload)
            return _http_response(200, [*mutual, ("Content-Type", "application/soap+xml;charset=UTF-8")], junk)
        status, xml = await self._dispatch(body)
        if sealed:
            payload, ctype = auth.seal(xml)
            return _http_response(status, [*mutual, ("Content-Type", ctype)], payload)
        return _http_response(status, [*mutual, ("Content-Type", "application/soap+xml;charset=UTF-8")], xml)

    # --- WinRS actions ----------------------------------------------------------------------

    def _fault(self, rid: str, code: int, subcode: str, reason: str) -> tuple[int, bytes]:
        return 500, soap.fault(rid, code, subcode, reason, self.model.hostname)

    async def _dispatch(self, body: bytes) -> tuple[int, bytes]:
        try:
            req = soap.parse_request(body)
        except ValueError as exc:
            return self._fault("", soap.INVALID_REQUEST, "w:InvalidMessageInformationHeader", str(exc))
        rid = req.message_id
        if req.action == soap.ACTION_GET and req.resource in (soap.RESOURCE_CONFIG, soap.RESOURCE_CONFIG_WINRS):
            values = soap.WINRS_DEFAULTS if req.resource == soap.RESOURCE_CONFIG_WINRS else dict(
                soap.CONFIG_DEFAULTS, MaxEnvelopeSizekb=str(self.config.faults.max_envelope_kb or 500))
            return 200, soap.config_response(rid, req.resource, values)
        if req.action == soap.ACTION_CREATE and self.config.faults.hostile is not None:
            return 500, self.config.faults.hostile.encode("utf-8")  # not even SOAP: a broken proxy, say
        if req.action == soap.ACTION_CREATE:
            if self.config.faults.max_shells is not None and len(self.shells) >= self.config.faults.max_shells:
                return self._fault(rid, QUOTA_MAX_SHELLS, "w:QuotaLimit",
                                   "The WS-Management service cannot process the request. This user is allowed a "
                                   f"maximum number of {self.config.faults.max_shells} concurrent shells, which has "
                                   "been exceeded. Close existing shells or raise the quota for this user.")
            shell = _Shell(str(uuid.uuid4()).upper())
            self.shells[shell.id] = shell
            scheme_addr = f"{self.config.scheme}://{self.config.address}:{self.port}/wsman"
            return 200, soap.created(rid, scheme_addr, shell.id)
        shell = self.shells.get(req.shell_id or "")
        if shell is None:
            return self._fault(rid, soap.SHELL_NOT_FOUND, "w:InvalidSelectors",
                               "The request for the Windows Remote Shell with ShellId "
                               f"{req.shell_id} failed because the shell was not found on the server.")
        if req.action == soap.ACTION_DELETE:
            for cmd in shell.commands.values():
                if cmd.task:
                    cmd.task.cancel()
            del self.shells[shell.id]
            return 200, soap.empty_response(soap.TRANSFER + "DeleteResponse", rid)
        if req.action == soap.ACTION_COMMAND:
            return self._command(req, shell)
        if req.action == soap.ACTION_RECEIVE:
            return await self._receive(req, shell)
        if req.action == soap.ACTION_SEND:
            return self._send(req, shell)
        if req.action == soap.ACTION_SIGNAL:
            sig = req.find("rsp:Signal")
            cmd = shell.commands.pop(sig.get("CommandId", "") if sig is not None else "", None)
            if cmd is not None and cmd.task:
                cmd.task.cancel()
            return 200, soap.empty_response(soap.SHELL + "SignalResponse", rid, "<rsp:SignalResponse/>")
        return self._fault(rid, soap.INVALID_REQUEST, "w:ActionNotSupported", f"unsupported action {req.action}")

    def _command(self, req: soap.Request, shell: _Shell) -> tuple[int, bytes]:
        quota = self.config.faults.quota_after
        if quota is not None and shell.count >= quota:
            return self._fault(req.message_id, soap.QUOTA_MAX_OPERATIONS, "w:QuotaLimit",
                               "The WS-Management service cannot process the request. This user is allowed a "
                               f"maximum number of {quota} concurrent operations, which has been exceeded. "
                               "Close existing operations for this user, or raise the quota for this user.")
        shell.count += 1
        line = req.find("rsp:CommandLine")
        command = (line.findtext("rsp:Command", "", soap.NS) if line is not None else "").strip()
        arguments = [a.text or "" for a in line.iterfind("rsp:Arguments", soap.NS)] if line is not None else []
        cmd = _Command(line.get("CommandId") if line is not None and line.get("CommandId") else
                       str(uuid.uuid4()).upper(), command, arguments)
        shell.commands[cmd.id] = cmd
        if not self.model.wants_stdin(command, arguments):
            self._start(cmd)
        return 200, soap.command_response(req.message_id, cmd.id)

    def _send(self, req: soap.Request, shell: _Shell) -> tuple[int, bytes]:
        for stream in req.body.iterfind("rsp:Send/rsp:Stream", soap.NS) if req.body is not None else []:
            cmd = shell.commands.get(stream.get("CommandId", ""))
            if cmd is None:
                continue
            cmd.stdin += base64.b64decode(stream.text or "")
            if stream.get("End", "").lower() == "true" and cmd.task is None:
                self._start(cmd)
        return 200, soap.empty_response(soap.SHELL + "SendResponse", req.message_id, "<rsp:SendResponse/>")

    def _start(self, cmd: _Command) -> None:
        cmd.task = asyncio.get_running_loop().create_task(self._execute(cmd))

    async def _execute(self, cmd: _Command) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self.executor, self.model.run, cmd.command, cmd.arguments,
                                                 bytes(cmd.stdin))
        except Exception as exc:  # a bug in a host model: show it as the command's failure
            log.exception("host model %s failed", type(self.model).__name__)
            outcome = CommandOutcome(stderr=f"lab host model error: {exc}\r\n".encode(), rc=1)
        if outcome.delay > 0:
            await asyncio.sleep(outcome.delay)
        cmd.outcome = outcome
        cmd.done.set()

    async def _receive(self, req: soap.Request, shell: _Shell) -> tuple[int, bytes]:
        ds = req.find("rsp:Receive/rsp:DesiredStream")
        cmd = shell.commands.get(ds.get("CommandId", "") if ds is not None else "")
        if cmd is None:
            return self._fault(req.message_id, soap.INVALID_REQUEST, "w:InvalidParameter", "unknown CommandId")
        try:
            await asyncio.wait_for(cmd.done.wait(), timeout=max(0.05, req.operation_timeout))
        except asyncio.TimeoutError:
            return self._fault(req.message_id, soap.OPERATION_TIMEOUT, "w:TimedOut",
                               "The WS-Management service cannot complete the operation within the time "
                               "specified in OperationTimeout.")
        out = cmd.outcome.stdout[cmd.sent_out:cmd.sent_out + CHUNK]
        err = cmd.outcome.stderr[cmd.sent_err:cmd.sent_err + CHUNK]
        cmd.sent_out += len(out)
        cmd.sent_err += len(err)
        drained = cmd.sent_out >= len(cmd.outcome.stdout) and cmd.sent_err >= len(cmd.outcome.stderr)
        return 200, soap.receive_response(req.message_id, cmd.id, out, err, drained, cmd.outcome.rc)
