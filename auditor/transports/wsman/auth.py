"""How each request proves who sends it: Basic, NTLM (connection-bound, optionally sealing the
bodies, MS-WSMV 2.2.9.1.1) or a TLS client certificate (the WS-Management "mutual" profile).
"""

from __future__ import annotations

import base64
import functools
import hashlib

import spnego
import spnego.exceptions
from spnego.channel_bindings import GssChannelBindings

from auditor.transports.wsman import sealing
from auditor.transports.wsman.http import HttpConnection, Response

CERT_MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
SOAP_TYPE = "application/soap+xml;charset=UTF-8"


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


class NtlmAuthenticator(Authenticator):
    """NTLM inside the Negotiate scheme, as Windows' WinRM offers it: two round trips per TCP
    connection (NEGOTIATE -> CHALLENGE, AUTHENTICATE), with empty bodies so the sealed requests
    can start right after; over HTTPS the handshake is bound to the server's certificate."""

    def __init__(self, user: str, password: str, host: str, seal: bool):
        super().__init__(None)
        self.user, self._password, self.host = user, password, host
        self.sealing = seal
        self._ctx: spnego.ContextProxy | None = None
        self._generation = -1

    async def ready(self, http: HttpConnection, target: str) -> None:
        await http.open()
        if self._generation == http.generation and self._ctx is not None:
            return
        ctx = spnego.client(ntlm_credential(self.user, self._password), hostname=self.host, service="http",
                            channel_bindings=_channel_bindings(http.peer_certificate()), protocol="ntlm")
        try:
            reply = await http.request(target, _negotiate(ctx.step() or b""), b"")
            challenge = _challenge(reply)
            if challenge is None:
                raise AuthRejected(f"the service answered HTTP {reply.status} without an NTLM challenge")
            reply = await http.request(target, _negotiate(ctx.step(challenge) or b""), b"")
        except spnego.exceptions.SpnegoError as exc:
            raise AuthRejected(f"NTLM handshake failed ({exc.message or type(exc).__name__})") from None
        if reply.status == 401:
            raise AuthRejected("the service rejected the credentials")
        if reply.status != 200:
            raise AuthRejected(f"NTLM handshake ended with HTTP {reply.status}")
        self._ctx, self._generation = ctx, http.generation

    def headers(self) -> list[tuple[str, str]]:
        return []

    def wrap(self, xml: bytes) -> tuple[bytes, str]:
        if not self.sealing:
            return xml, SOAP_TYPE
        assert self._ctx is not None
        wrapped = self._ctx.wrap_winrm(xml)
        return sealing.frame(wrapped.header, wrapped.data, len(xml)), sealing.CONTENT_TYPE

    def unwrap(self, response: Response) -> bytes:
        if not sealing.is_sealed(response.header("content-type")):
            return response.body
        assert self._ctx is not None
        signature, sealed, length = sealing.unframe(response.body)
        try:
            plain = self._ctx.unwrap_winrm(signature, sealed)
        except spnego.exceptions.SpnegoError as exc:
            raise ValueError(f"a sealed reply failed its signature check ({exc.message})") from None
        if len(plain) != length:
            raise ValueError("a sealed reply's length does not match its header (tampered with?)")
        return plain


@functools.lru_cache(maxsize=1024)
def ntlm_credential(user: str, password: str) -> spnego.NTLMHash:
    """The user's NT hash, derived once per process. Given a password, pyspnego derives the NT *and*
    the LM hash for every context, the LM one with pure-Python DES (~1.6 ms per host); NTLMv2
    needs only the NT hash."""
    from spnego._ntlm_raw.crypto import ntowfv1  # pyspnego's MD4: OpenSSL 3 may lack it

    return spnego.NTLMHash(user, nt_hash=ntowfv1(password).hex().upper())


def _negotiate(token: bytes) -> list[tuple[str, str]]:
    return [("Authorization", "Negotiate " + base64.b64encode(token).decode("ascii"))]


def _challenge(reply: Response) -> bytes | None:
    if reply.status != 401:
        return None
    for value in reply.all("www-authenticate"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm") and token.strip():
            try:
                return base64.b64decode(token.strip())
            except ValueError:
                return None
    return None


def _channel_bindings(cert_der: bytes | None) -> GssChannelBindings | None:
    """RFC 5929 tls-server-end-point: the certificate's hash (SHA-256 when it is signed with MD5/SHA-1)."""
    if not cert_der:
        return None
    from cryptography import x509  # only for NTLM over HTTPS
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        algorithm = x509.load_der_x509_certificate(cert_der).signature_hash_algorithm
        name = algorithm.name if algorithm is not None else "sha256"
    except (ValueError, TypeError, UnsupportedAlgorithm):  # e.g. a signature algorithm cryptography does not know
        name = "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    digest = hashlib.new(name, cert_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)
