"""The native WinRM engine's HTTP connection against a real loopback server that misbehaves on cue."""

from __future__ import annotations

import asyncio

import pytest

from auditor.transports.wsman.http import HttpConnection, HttpError

pytestmark = pytest.mark.integration

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
HUGE = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
GARBAGE = b"NOT HTTP AT ALL\r\n\r\n"


class ScriptedServer:
    """Answers each request with the next scripted reply (None: close without answering)."""

    def __init__(self, replies: list[bytes | None]):
        self.replies = list(replies)
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                self.requests.append(head + await reader.readexactly(length))
                reply = self.replies.pop(0)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(replies: list[bytes | None]) -> tuple[ScriptedServer, asyncio.AbstractServer, int]:
    scripted = ScriptedServer(replies)
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    return scripted, server, server.sockets[0].getsockname()[1]


async def test_keep_alive_then_reconnect_after_the_server_closes():
    scripted, server, port = await _serve([OK, CLOSE, CHUNKED])
    async with server:
        http = HttpConnection("127.0.0.1", port)
        first = await http.request("/wsman", [("X-Test", "1")], b"body-1")
        assert (first.status, first.body, first.header("content-type")) == (200, b"hello", "text/plain")
        assert (await http.request("/wsman", [], b"")).body == b"bye"
        assert http.generation == 1 and not http.connected  # the server asked to close
        assert (await http.request("/wsman", [], b"x")).body == b"abcde"  # chunked, on a new connection
        assert http.generation == 2 and scripted.connections == 2
        assert scripted.requests[0].startswith(b"POST /wsman HTTP/1.1\r\n")
        assert b"X-Test: 1" in scripted.requests[0] and scripted.requests[0].endswith(b"body-1")
        await http.aclose()


@pytest.mark.parametrize("reply, error", [(HUGE, HttpError), (GARBAGE, HttpError), (None, ConnectionResetError)])
async def test_bad_replies_raise_and_drop_the_connection(reply, error):
    _, server, port = await _serve([reply])
    async with server:
        http = HttpConnection("127.0.0.1", port, max_body=1000)
        with pytest.raises(error):
            await http.request("/wsman", [], b"")
        assert not http.connected
