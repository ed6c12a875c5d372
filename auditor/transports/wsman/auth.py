"""How each request proves who sends it.

- Basic, or a TLS client certificate (the WS-Management "mutual" profile): a header on every request.
- NTLM or Kerberos inside the ``Negotiate`` scheme, and CredSSP: a security context that authenticates
  the TCP connection (NTLM: two round trips; Kerberos: one, with the host proving itself back; CredSSP:
  a TLS handshake, then NTLM or Kerberos inside it, then the delegated password), with empty bodies
  so the sealed requests can start right after. Over HTTP the bodies are sealed with the context
  (MS-WSMV 2.2.9.1); over HTTPS the handshake is bound to the server's certificate (channel binding).
"""

from __future__ import annotations

import abc
import asyncio
import base64
import functools
import hashlib
from typing import Any

import spnego
import spnego.exceptions
from spnego.channel_bindings import GssChannelBindings

from auditor.transports.winrm_options import KerberosOptions
from auditor.transports.wsman import kerberos, sealing
from auditor.transports.wsman.http import HttpConnection, Response
from auditor.transports.wsman.ntlm_hash import nt_hash

CERT_MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
SOAP_TYPE = "application/soap+xml;charset=UTF-8"
MAX_ROUNDS = 12  # CredSSP needs 4-6 round trips; a service that keeps challenging is broken


class AuthRejected(Exception):
    """The service refused the credentials (HTTP 401 after authenticating)."""


class Authenticator:
    """Basic or client-certificate auth: the same header on every request, nothing sealed."""

    sealing = False

    def __init__(self, header: str | None):
        self._header = header

    async def ready(self, http: HttpConnection, target: str) -> None:
        """Make sure ``http`` is connected and authenticated (Basic/certificate: nothing to do)."""
        await http.open()

    def headers(self) -> list[tuple[str, str]]:
        return [("Authorization", self._header)] if self._header else []

    def wrap(self, xml: bytes) -> tuple[bytes, str]:
        """(body, content type) for ``xml``."""
        return xml, SOAP_TYPE

    def unwrap(self, response: Response) -> bytes:
        return response.body


def basic(user: str, password: str) -> Authenticator:
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return Authenticator(f"Basic {token}")


def certificate() -> Authenticator:
    return Authenticator(CERT_MUTUAL)


def offered_schemes(reply: Response) -> list[str]:
    """The auth schemes a 401 offers (``WWW-Authenticate``), in order, without their tokens."""
    out: list[str] = []
    for value in reply.all("www-authenticate"):
        for part in value.split(","):
            scheme = part.strip().split(" ", 1)[0]
            if scheme and "=" not in scheme and scheme not in out:
                out.append(scheme)
    return out


def not_offered(scheme: str, offered: list[str]) -> str | None:
    """The one-line problem when a 401 offers schemes but not ``scheme`` (None: it is offered)."""
    if not offered or scheme.lower() in (s.lower() for s in offered):
        return None
    return (f"the listener does not offer {scheme} authentication (it offers {', '.join(offered)}): enable it in "
            f"the WinRM service or choose another ansible_winrm_transport")


def _token(reply: Response, scheme: str) -> bytes | None:
    """The security token a reply carries for ``scheme`` (Negotiate replies may say Kerberos or NTLM)."""
    names = {scheme.lower(), "negotiate", "kerberos", "ntlm"} if scheme == "Negotiate" else {scheme.lower()}
    for value in reply.all("www-authenticate"):
        name, _, token = value.strip().partition(" ")
        if name.lower() in names and token.strip():
            try:
                return base64.b64decode(token.strip())
            except ValueError:
                return None
    return None


class ContextAuthenticator(Authenticator, abc.ABC):
    """A security context that authenticates the connection (see the module doc); subclasses choose
    the mechanism. The context is remade for every new TCP connection."""

    scheme = "Negotiate"
    protocol = sealing.SPNEGO_ENCRYPTED
    chunk: int | None = None       # largest plain text per sealed part (CredSSP), None: one part
    mechanism = "NTLM"

    def __init__(self, host: str, seal: bool):
        super().__init__(None)
        self.host = host
        self.sealing = seal
        self._ctx: Any = None
        self._generation = -1

    # --- what a mechanism provides ----------------------------------------------------------------

    @abc.abstractmethod
    async def make_context(self, http: HttpConnection) -> Any:
        """A fresh client context for the connection ``http`` just opened."""

    async def step(self, ctx: Any, token: bytes | None, reply: Response | None = None) -> bytes | None:
        """One step of the context on ``token`` (from ``reply``); may block: Kerberos asks the KDC."""
        try:
            return ctx.step(token)
        except spnego.exceptions.SpnegoError as exc:
            raise self.failed(exc) from None

    def failed(self, exc: spnego.exceptions.SpnegoError) -> Exception:
        return AuthRejected(f"{self.mechanism} handshake failed ({exc.message or type(exc).__name__})")

    def rejected(self, reply: Response) -> Exception:
        offered = offered_schemes(reply)
        problem = not_offered(self.scheme, offered) if reply.status == 401 else None
        if problem:
            return AuthRejected(problem)
        listed = f" (it offers {', '.join(offered)})" if offered else ""
        if reply.status == 401:
            return AuthRejected(f"the service rejected the credentials{listed}")
        return AuthRejected(f"{self.mechanism} handshake ended with HTTP {reply.status}{listed}")

    # --- the handshake ----------------------------------------------------------------------------

    async def ready(self, http: HttpConnection, target: str) -> None:
        await http.open()
        if self._generation == http.generation and self._ctx is not None:
            return
        ctx = await self.make_context(http)
        token = await self.step(ctx, None)
        for _ in range(MAX_ROUNDS):
            header = f"{self.scheme} {base64.b64encode(token or b'').decode('ascii')}"
            reply = await http.request(target, [("Authorization", header)], b"")
            in_token = _token(reply, self.scheme)
            if reply.status == 200:
                if in_token and not ctx.complete:  # the host proves itself (Kerberos mutual auth)
                    await self.step(ctx, in_token, reply)
                if not ctx.complete:
                    raise AuthRejected(f"the service accepted an unfinished {self.mechanism} handshake "
                                       f"(mutual authentication missing)")
                break
            if reply.status == 401 and in_token and not ctx.complete:
                token = await self.step(ctx, in_token, reply)
                continue
            raise self.rejected(reply)
        else:
            raise AuthRejected(f"{self.mechanism} handshake did not finish in {MAX_ROUNDS} round trips")
        self._ctx, self._generation = ctx, http.generation

    # --- message encryption -----------------------------------------------------------------------

    def headers(self) -> list[tuple[str, str]]:
        return []

    def wrap(self, xml: bytes) -> tuple[bytes, str]:
        if not self.sealing:
            return xml, SOAP_TYPE
        assert self._ctx is not None
        size = self.chunk or len(xml) or 1
        parts = []
        for i in range(0, max(len(xml), 1), size):
            plain = xml[i:i + size]
            wrapped = self._ctx.wrap_winrm(plain)
            parts.append(sealing.frame_part(wrapped.header, wrapped.data, len(plain), self.protocol))
        body = b"".join(parts) + sealing.BOUNDARY + b"--\r\n"
        return body, sealing.content_type(self.protocol, multi=len(parts) > 1)

    def unwrap(self, response: Response) -> bytes:
        if not sealing.is_sealed(response.header("content-type")):
            return response.body
        assert self._ctx is not None
        out = bytearray()
        for signature, sealed, length in sealing.unframe_all(response.body):
            try:
                plain = self._ctx.unwrap_winrm(signature, sealed)
            except spnego.exceptions.SpnegoError as exc:
                raise ValueError(f"a sealed reply failed its signature check ({exc.message})") from None
            if len(plain) != length:
                raise ValueError("a sealed reply's length does not match its header (tampered with?)")
            out += plain
        return bytes(out)


class NtlmAuthenticator(ContextAuthenticator):
    """NTLM inside Negotiate, as Windows' WinRM offers it."""

    def __init__(self, user: str, password: str, host: str, seal: bool):
        super().__init__(host, seal)
        self.user, self._password = user, password

    async def make_context(self, http: HttpConnection) -> Any:
        return spnego.client(ntlm_credential(self.user, self._password), hostname=self.host, service="http",
                             channel_bindings=channel_bindings(http.peer_certificate()), protocol="ntlm")


class KerberosAuthenticator(ContextAuthenticator):
    """Kerberos inside Negotiate: a service ticket for ``<service>/<spn host>`` from the run's private
    ticket cache (or the user's own), the AP-REQ in one round trip, the host's AP-REP checked."""

    mechanism = "Kerberos"

    def __init__(self, opts: KerberosOptions, seal: bool):
        super().__init__(opts.spn_host, seal)
        self.opts = opts
        self._first = b""

    async def make_context(self, http: HttpConnection) -> Any:
        cbt = channel_bindings(http.peer_certificate()) if self.opts.send_cbt else None
        # kinit and the service ticket talk to the KDC: blocking, so in a worker thread
        ctx, self._first = await asyncio.to_thread(self._new_kerberos_context, cbt)
        return ctx

    def _new_kerberos_context(self, cbt: GssChannelBindings | None) -> tuple[Any, bytes]:
        return kerberos.service_context(self.opts, kerberos.ticket_cache(self.opts), cbt, self.opts.delegate)

    async def step(self, ctx: Any, token: bytes | None, reply: Response | None = None) -> bytes | None:
        if token is None:
            return self._first  # the AP-REQ, made with the context
        try:
            return ctx.step(token)
        except spnego.exceptions.SpnegoError as exc:
            failure = kerberos.classify_exception(exc, self.opts)
            skewed = kerberos.skew_failure(self.opts, reply.header("date")) if reply is not None else None
            raise (skewed if skewed and "clock skew" in failure.message else failure) from None

    def rejected(self, reply: Response) -> Exception:
        skewed = kerberos.skew_failure(self.opts, reply.header("date")) if reply.status == 401 else None
        return skewed if skewed is not None else super().rejected(reply)


class CredSSPAuthenticator(ContextAuthenticator):
    """CredSSP (MS-CSSP): TLS inside the ``CredSSP`` scheme, NTLM or Kerberos inside TLS, then the
    user's password delegated to the host (what a second hop needs; it trusts the host with it)."""

    scheme = "CredSSP"
    protocol = sealing.CREDSSP_ENCRYPTED
    chunk = sealing.CREDSSP_CHUNK
    mechanism = "CredSSP"

    def __init__(self, user: str, password: str, host: str, seal: bool, inner: str,
                 kerberos_opts: KerberosOptions | None = None):
        super().__init__(host, seal)
        self.user, self._password, self.inner = user, password, inner
        self.kerberos_opts = kerberos_opts

    async def make_context(self, http: HttpConnection) -> Any:
        return await asyncio.to_thread(self._new_credssp_context)

    def _new_credssp_context(self) -> Any:
        password = spnego.Password(self.user, self._password)
        inner = spnego.client(password, hostname=self.host, service="HTTP", protocol=self.inner)
        return spnego.client(password, hostname=self.host, service="HTTP", protocol="credssp",
                             credssp_negotiate_context=inner)

    async def step(self, ctx: Any, token: bytes | None, reply: Response | None = None) -> bytes | None:
        try:
            return await asyncio.to_thread(ctx.step, token) if self.inner == "kerberos" else ctx.step(token)
        except spnego.exceptions.SpnegoError as exc:
            if self.kerberos_opts is not None and self.inner == "kerberos":
                raise kerberos.classify_exception(exc, self.kerberos_opts) from None
            raise self.failed(exc) from None


@functools.lru_cache(maxsize=1024)
def ntlm_credential(user: str, password: str) -> spnego.NTLMHash:
    """The user's NT hash, derived once per process (see ``ntlm_hash``)."""
    return spnego.NTLMHash(user, nt_hash=nt_hash(password))


def channel_bindings(cert_der: bytes | None) -> GssChannelBindings | None:
    """RFC 5929 tls-server-end-point: the certificate's hash (SHA-256 when it is signed with MD5/SHA-1,
    or with an algorithm that names no hash or one cryptography does not know)."""
    if not cert_der:
        return None
    from cryptography import x509  # only for NTLM over HTTPS
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        algorithm = x509.load_der_x509_certificate(cert_der).signature_hash_algorithm
        name = algorithm.name if algorithm is not None else "sha256"
    except (ValueError, TypeError, UnsupportedAlgorithm):
        name = "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    try:
        digest = hashlib.new(name, cert_der).digest()
    except ValueError:  # a hash cryptography knows but hashlib does not
        digest = hashlib.sha256(cert_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)
