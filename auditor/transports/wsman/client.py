"""``WinrsClient``: WinRS shells and commands over one authenticated HTTP connection."""

from __future__ import annotations

import auditor
from auditor.transports.wsman import messages as m
from auditor.transports.wsman.auth import Authenticator, AuthRejected, ContextAuthenticator, offered_schemes
from auditor.transports.wsman.http import HttpConnection


USER_AGENT = f"auditor/{auditor.__version__} (WinRM)"  # who is asking, in the service's HTTP logs


class HttpStatusError(Exception):
    """A non-200 reply that carries no SOAP fault (``text``: the start of its body, as sent)."""

    def __init__(self, status: int, text: str = ""):
        super().__init__(f"HTTP {status} from the service")
        self.status = status
        self.text = text


class WinrsClient:
    """One host: ``open_shell`` once, then commands on that shell, then ``delete_shell``/``close``.

    Every method may raise: ``AuthRejected``, ``messages.Fault`` (``code`` tells quota, timeout...),
    ``messages.ProtocolError``/``http.HttpError``/``ValueError`` (a reply that makes no sense),
    ``HttpStatusError``, and ``OSError``/``ssl.SSLError`` from the network. Time limits are the
    caller's (``asyncio.wait_for``); after one fires the connection is closed, never reused mid-reply.
    """

    def __init__(self, http: HttpConnection, auth: Authenticator, endpoint: str, target: str,
                 operation_timeout: int = 20):
        self.http, self.auth = http, auth
        self.endpoint, self.target = endpoint, target
        self.operation_timeout = operation_timeout

    async def _post(self, action: str, body: str = "", shell_id: str | None = None,
                    options: dict[str, str] | None = None, operation_timeout: int | None = None,
                    resource: str = m.RESOURCE_CMD) -> bytes:
        await self.auth.ready(self.http, self.target)
        xml, message_id = m.envelope(self.endpoint, action, body, operation_timeout or self.operation_timeout,
                                     shell_id, options, resource)
        payload, content_type = self.auth.wrap(xml)
        headers = [("Content-Type", content_type), ("User-Agent", USER_AGENT), *self.auth.headers()]
        reply = await self.http.request(self.target, headers, payload)
        if reply.status == 401:
            if isinstance(self.auth, ContextAuthenticator):
                raise self.auth.rejected(reply)
            offered = offered_schemes(reply)
            raise AuthRejected("the service rejected the credentials"
                               + (f" (it offers {', '.join(offered)})" if offered else ""))
        text = self.auth.unwrap(reply) if reply.status == 200 or reply.body else b""
        if reply.status != 200:
            fault = m.fault_of(text)
            raise fault if fault is not None else HttpStatusError(reply.status, text[:300].decode("utf-8", "replace"))
        return text

    async def open_shell(self, codepage: int = 65001) -> str:
        body, options = m.create_shell_body(codepage)
        return m.shell_id_of(await self._post(m.ACTION_CREATE, body, options=options))

    async def command(self, shell_id: str, command: str, arguments: list[str], console_mode_stdin: bool = True) -> str:
        body, options = m.command_body(command, arguments, console_mode_stdin)
        return m.command_id_of(await self._post(m.ACTION_COMMAND, body, shell_id, options))

    async def send(self, shell_id: str, command_id: str, data: bytes, end: bool) -> None:
        await self._post(m.ACTION_SEND, m.send_body(command_id, data, end), shell_id)

    async def receive(self, shell_id: str, command_id: str, operation_timeout: int | None = None) -> m.Output:
        """One Receive; a command still running past ``operation_timeout`` raises a ``Fault`` with
        ``code == messages.OPERATION_TIMEOUT`` (ask again)."""
        return m.output_of(await self._post(m.ACTION_RECEIVE, m.receive_body(command_id), shell_id,
                                            operation_timeout=operation_timeout))

    async def signal_terminate(self, shell_id: str, command_id: str) -> None:
        await self._post(m.ACTION_SIGNAL, m.signal_body(command_id), shell_id)

    async def delete_shell(self, shell_id: str) -> None:
        await self._post(m.ACTION_DELETE, "", shell_id)

    async def authenticate(self) -> None:
        """Connect and authenticate, nothing else (a credential test)."""
        await self.auth.ready(self.http, self.target)

    async def get_config(self, resource: str = m.RESOURCE_CONFIG_WINRS) -> dict[str, str]:
        """The service's settings under ``resource`` (``winrm get winrm/config/winrs``): admins only."""
        return m.config_values(await self._post(m.ACTION_GET, "", resource=resource))

    async def close(self) -> None:
        await self.http.aclose()
