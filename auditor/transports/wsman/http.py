"""One keep-alive HTTP/1.1 client connection on asyncio streams, framed by h11.

WinRM's NTLM authenticates the TCP connection, not a request, so the engine must know which
connection a request goes out on: a connection pool (requests, aiohttp) hides exactly that. h11
does the HTTP/1.1 parsing and framing (Content-Length, chunked, keep-alive rules); this module only
moves bytes. A reply body is bounded (``max_body``): remote output is untrusted.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

import h11

READ_CHUNK = 256 * 1024


class HttpError(Exception):
    """The server broke HTTP: a malformed or oversized reply, or the connection ended mid-reply."""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)   # names lower-cased
    body: bytes = b""

    def header(self, name: str) -> str:
        """The last value of header ``name`` ('' when absent)."""
        values = self.all(name)
        return values[-1] if values else ""

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class HttpConnection:
    """Requests go out one at a time on one TCP (or TLS) connection, re-opened when the server closed it."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, max_body: int = 64 * 1024 * 1024):
        self.host, self.port = host, port
        self.ssl_context, self.server_hostname = ssl_context, server_hostname
        self.max_body = max_body
        self.generation = 0          # bumps with every new TCP connection (NTLM must start over)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11: h11.Connection | None = None
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        """Connect (TLS when configured); OSError / ssl.SSLError propagate for the caller to map."""
        if self._writer is not None:
            return
        if self.ssl_context is not None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=READ_CHUNK, ssl=self.ssl_context,
                server_hostname=self.server_hostname or self.host)
        else:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=READ_CHUNK)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:  # small request/reply pairs: never wait for a delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._h11 = h11.Connection(our_role=h11.CLIENT)
        self.generation += 1

    def peer_certificate(self) -> bytes | None:
        """The server's certificate (DER) on a TLS connection, for channel binding."""
        if self._writer is None:
            return None
        tls = self._writer.get_extra_info("ssl_object")
        return tls.getpeercert(binary_form=True) if tls is not None else None

    async def request(self, target: str, headers: list[tuple[str, str]], body: bytes) -> Response:
        """POST ``body`` to ``target`` and read the whole reply."""
        await self.open()
        assert self._h11 is not None and self._writer is not None
        conn = self._h11
        try:
            head = [("Host", self._host_header), ("Content-Length", str(len(body))), *headers]
            out = conn.send(h11.Request(method="POST", target=target, headers=head))
            out += conn.send(h11.Data(data=body)) if body else b""
            out += conn.send(h11.EndOfMessage())
            self._writer.write(out)
            await self._writer.drain()
            response = await self._read_response(conn)
        except h11.ProtocolError as exc:
            self.close()
            raise HttpError(f"malformed HTTP reply ({exc})") from None
        except BaseException:
            self.close()  # half a request/reply on the wire: this connection is unusable
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:  # the server asked to close (or HTTP/1.0): the next request opens a new connection
            self.close()
        return response

    async def _read_response(self, conn: h11.Connection) -> Response:
        assert self._reader is not None
        response: Response | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(READ_CHUNK)
                if not data and response is None:
                    raise ConnectionResetError("the server closed the connection before replying")
                conn.receive_data(data)  # b"" mid-reply: h11 ends a close-delimited body or reports the break
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                response = Response(event.status_code, [(k.decode("latin-1").lower(), v.decode("latin-1"))
                                                        for k, v in event.headers])
            elif isinstance(event, h11.Data):
                if len(body) + len(event.data) > self.max_body:
                    raise HttpError(f"reply larger than {self.max_body} bytes")
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                response.body = bytes(body)
                return response
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection before replying")
            elif event is h11.PAUSED:  # cannot happen mid-reply for a client; treat as broken
                raise HttpError("unexpected HTTP state")

    def close(self) -> None:
        writer, self._writer, self._reader, self._h11 = self._writer, None, None, None
        if writer is not None:
            writer.close()  # no wait: the transport finishes closing on the loop

    async def aclose(self) -> None:
        writer = self._writer
        self.close()
        if writer is not None:
            try:
                await asyncio.wait_for(writer.wait_closed(), 2)
            except (OSError, asyncio.TimeoutError, ssl.SSLError):
                pass
