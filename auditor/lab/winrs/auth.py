"""Server-side WinRM authentication: Basic, Negotiate (NTLM through pyspnego's acceptor, Kerberos through
python-gssapi with the host's own keytab), CredSSP (pyspnego's acceptor, NTLM inside), client
certificates, and MS-WSMV message encryption with whichever context authenticated the connection.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import spnego
import spnego.exceptions

from auditor.transports.wsman import sealing
from auditor.transports.wsman.ntlm_hash import lm_hash, nt_hash

CERT_MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
NTLMSSP = b"NTLMSSP\x00"

# pyspnego's NTLM acceptor reads its users from the file named by $NTLM_USER_FILE, at context
# creation and at each step. Hosts of one fleet may hold different passwords (a fault knob), so
# the variable is pointed at the host's own file around each synchronous step. The lock keeps
# fleets running in different threads (tests) from interleaving.
_NTLM_ENV_LOCK = threading.Lock()


@contextmanager
def _ntlm_user_file(path: str | None) -> Iterator[None]:
    with _NTLM_ENV_LOCK:
        old = os.environ.get("NTLM_USER_FILE")
        if path is not None:
            os.environ["NTLM_USER_FILE"] = path
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = old


@functools.lru_cache(maxsize=16)
def _ntlm_hashes(password: str) -> tuple[str, str]:
    """(LM, NT) hash of a password, derived once: the LM hash is pure-Python DES (~1.7 ms), and a lab
    of 14,000 Windows hosts sharing one password spent 24 s of its start on it."""
    return lm_hash(password), nt_hash(password)


def write_ntlm_user_file(path: str, user: str, password: str, domains: list[str]) -> None:
    """An NTLM_USER_FILE (``DOMAIN:USER:PASSWORD`` lines) accepting ``user`` under each domain."""
    # The hash form (DOMAIN\\USER:UID:LMHASH:NTHASH::) spares pyspnego from deriving both hashes,
    # with pure-Python DES, on every authentication: most of the lab's CPU per Windows host.
    lm, nt = _ntlm_hashes(password)
    names = [user] + [f"{domain}\\{user}" for domain in domains]
    lines = [f"{name}:0:{lm}:{nt}::" for name in names]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")


@dataclass
class AuthConfig:
    """Which methods a host accepts and with what secret. ``kerberos``: a keytab holding the host's
    ``HTTP/<name>`` key (None: the KDC has no such principal, so no client gets a ticket)."""

    user: str
    password: str = field(repr=False)
    methods: frozenset[str] = frozenset({"basic", "ntlm", "certificate"})
    ntlm_user_file: str | None = None
    keytab: str | None = None


class AuthResult:
    """The outcome of one request's Authorization header."""

    def __init__(self, ok: bool, challenge: list[str] | None = None, final: str | None = None):
        self.ok = ok
        self.challenge = challenge or []  # WWW-Authenticate values for a 401
        self.final = final                # WWW-Authenticate value for the 200 (Kerberos' AP-REP)


class KerberosAcceptor:
    """A Kerberos acceptor context on the host's own keytab (python-gssapi's credential store: no
    process-wide KRB5_KTNAME), taking raw Kerberos or SPNEGO tokens as Windows' Negotiate does, with
    the MS-WSMV wrapping (IOV: header, data, padding) that WinRM message encryption uses."""

    def __init__(self, keytab: str, channel_bindings: bytes | None):
        import gssapi

        self._gssapi = gssapi
        creds = gssapi.Credentials(usage="accept", store={"keytab": keytab})
        kwargs: dict[str, Any] = {}
        if channel_bindings is not None:
            kwargs["channel_bindings"] = gssapi.raw.ChannelBindings(application_data=channel_bindings)
        self._ctx = gssapi.SecurityContext(creds=creds, usage="accept", **kwargs)

    @property
    def complete(self) -> bool:
        return bool(self._ctx.complete)

    @property
    def client_principal(self) -> str:
        return str(self._ctx.initiator_name).rstrip("\x00")

    def step(self, token: bytes) -> bytes | None:
        return self._ctx.step(token)

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes]:
        from gssapi.raw import IOV, IOVBufferType, wrap_iov

        iov = IOV((IOVBufferType.header, True, None), (IOVBufferType.data, False, data),
                  (IOVBufferType.padding, True, None), std_layout=False)
        wrap_iov(self._ctx, iov, confidential=True)
        return iov[0].value or b"", (iov[1].value or b"") + (iov[2].value or b"")

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        from gssapi.raw import IOV, IOVBufferType, unwrap_iov

        iov = IOV((IOVBufferType.header, False, header), (IOVBufferType.data, False, data),
                  (IOVBufferType.data, False, None), std_layout=False)
        unwrap_iov(self._ctx, iov)
        return iov[1].value or b""


class ConnectionAuth:
    """Per-TCP-connection auth state: Negotiate and CredSSP authenticate the connection, not each request."""

    def __init__(self, config: AuthConfig, peer_cert: dict[str, Any] | None = None,
                 channel_bindings: bytes | None = None):
        self.config = config
        self.peer_cert = peer_cert
        self.channel_bindings = channel_bindings  # tls-server-end-point of our certificate (HTTPS)
        self.ctx: Any = None
        self.authenticated_by: str | None = None
        self.delegated: Any = None  # what a CredSSP client delegated (TSPasswordCreds)

    def default_challenge(self) -> list[str]:
        out = []
        if self.config.methods & {"ntlm", "kerberos"}:
            out.append("Negotiate")
        if "kerberos" in self.config.methods:
            out.append("Kerberos")
        if "credssp" in self.config.methods:
            out.append("CredSSP")
        if "basic" in self.config.methods:
            out.append('Basic realm="WSMAN"')
        return out

    def check(self, header: str | None) -> AuthResult:
        if header is None:
            if self.authenticated_by in ("ntlm", "kerberos", "credssp"):
                return AuthResult(True)
            return AuthResult(False, self.default_challenge())
        scheme, _, value = header.strip().partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic" and "basic" in self.config.methods:
            return self._basic(value.strip())
        if scheme_l in ("negotiate", "kerberos", "ntlm") and self.config.methods & {"ntlm", "kerberos"}:
            return self._negotiate(scheme, value.strip())
        if scheme_l == "credssp" and "credssp" in self.config.methods:
            return self._credssp(value.strip())
        if header.strip() == CERT_MUTUAL and "certificate" in self.config.methods:
            return AuthResult(self.peer_cert is not None, self.default_challenge())
        return AuthResult(False, self.default_challenge())

    def _basic(self, value: str) -> AuthResult:
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult(False, self.default_challenge())
        user = user.rpartition("\\")[2]
        ok = (hmac.compare_digest(user.lower().encode(), self.config.user.lower().encode())
              and hmac.compare_digest(password.encode(), self.config.password.encode()))
        if ok:
            self.authenticated_by = "basic"
        return AuthResult(ok, None if ok else self.default_challenge())

    def _negotiate(self, scheme: str, value: str) -> AuthResult:
        try:
            token = base64.b64decode(value)
        except binascii.Error:
            return AuthResult(False, self.default_challenge())
        ntlm = NTLMSSP in token  # raw, or inside SPNEGO; a Kerberos AP-REQ never holds it
        if ntlm and "ntlm" in self.config.methods:
            return self._ntlm(scheme, token)
        if not ntlm and "kerberos" in self.config.methods:
            return self._kerberos(scheme, token)
        return AuthResult(False, self.default_challenge())

    def _ntlm(self, scheme: str, token: bytes) -> AuthResult:
        assert self.config.ntlm_user_file is not None, "NTLM needs a user file"
        try:
            with _ntlm_user_file(self.config.ntlm_user_file):
                if self.ctx is None or self.authenticated_by or token[8:12] == b"\x01\x00\x00\x00":
                    self.ctx, self.authenticated_by = spnego.server(protocol="negotiate"), None  # NEGOTIATE restarts
                reply = self.ctx.step(token)
        except spnego.exceptions.SpnegoError:
            self.ctx = None
            return AuthResult(False, self.default_challenge())
        if self.ctx.complete:
            self.authenticated_by = "ntlm"
            return AuthResult(True)
        return AuthResult(False, [f"{scheme} {base64.b64encode(reply or b'').decode()}"])

    def _kerberos(self, scheme: str, token: bytes) -> AuthResult:
        import gssapi.exceptions

        if self.config.keytab is None:
            return AuthResult(False, self.default_challenge())
        reply: bytes | None = None
        try:
            self.ctx, self.authenticated_by = KerberosAcceptor(self.config.keytab, self.channel_bindings), None
            reply = self.ctx.step(token)
            complete = self.ctx.complete  # python-gssapi raises a failed step's error here
        except gssapi.exceptions.GSSError:  # bad ticket, clock skew, wrong channel binding...
            self.ctx = None
            # a KRB-ERROR token (e.g. KRB_AP_ERR_SKEW) goes back to the client, as Windows sends it
            return AuthResult(False, [f"{scheme} {base64.b64encode(reply).decode()}"] if reply
                              else self.default_challenge())
        if not complete:
            return AuthResult(False, [f"{scheme} {base64.b64encode(reply or b'').decode()}"])
        self.authenticated_by = "kerberos"
        return AuthResult(True, final=f"{scheme} {base64.b64encode(reply).decode()}" if reply else None)

    def _credssp(self, value: str) -> AuthResult:
        try:
            token = base64.b64decode(value)
        except binascii.Error:
            return AuthResult(False, self.default_challenge())
        try:
            with _ntlm_user_file(self.config.ntlm_user_file):
                if self.ctx is None or self.authenticated_by or getattr(self.ctx, "protocol", "") != "credssp":
                    inner = spnego.server(protocol="ntlm")
                    self.ctx = spnego.server(protocol="credssp", credssp_negotiate_context=inner)
                    self.authenticated_by = None
                reply = self.ctx.step(token)
        except (spnego.exceptions.SpnegoError, ValueError):
            self.ctx = None
            return AuthResult(False, self.default_challenge())
        if not self.ctx.complete:
            return AuthResult(False, [f"CredSSP {base64.b64encode(reply or b'').decode()}"])
        delegated = self.ctx.get_extra_info("client_credential")
        # the delegated password must be the account's: that is what a second hop would log in with
        if delegated is None or not hmac.compare_digest(str(getattr(delegated, "password", "")).encode(),
                                                        self.config.password.encode()):
            self.ctx = None
            return AuthResult(False, self.default_challenge())
        self.delegated, self.authenticated_by = delegated, "credssp"
        return AuthResult(True)

    # --- MS-WSMV message encryption ---------------------------------------------------------

    @property
    def can_seal(self) -> bool:
        return self.authenticated_by in ("ntlm", "kerberos", "credssp") and self.ctx is not None

    @property
    def seal_protocol(self) -> str:
        return sealing.CREDSSP_ENCRYPTED if self.authenticated_by == "credssp" else sealing.SPNEGO_ENCRYPTED

    def unseal(self, body: bytes) -> bytes:
        """The SOAP text inside a ``multipart/encrypted`` (or x-multi-encrypted) request body."""
        out = bytearray()
        for sig, sealed, length in sealing.unframe_all(body):
            plain = self._unwrap(sig, sealed)
            if len(plain) != length:
                raise ValueError("encrypted length mismatch")
            out += plain
        return bytes(out)

    def _unwrap(self, sig: bytes, sealed: bytes) -> bytes:
        if self.authenticated_by == "kerberos":
            return self.ctx.unwrap_winrm(sig, sealed)
        return self.ctx.unwrap(sig + sealed).data  # NTLM: signature then sealed text; CredSSP: one TLS record

    def seal(self, plain: bytes) -> tuple[bytes, str]:
        """(body, content type) of a sealed reply (CredSSP: 16 KiB per part, as Windows does)."""
        size = sealing.CREDSSP_CHUNK if self.authenticated_by == "credssp" else max(len(plain), 1)
        parts = []
        for i in range(0, max(len(plain), 1), size):
            chunk = plain[i:i + size]
            if self.authenticated_by == "kerberos":
                header, data = self.ctx.wrap_winrm(chunk)
            else:
                wrapped = self.ctx.wrap_winrm(chunk)
                header, data = wrapped.header, wrapped.data
            parts.append(sealing.frame_part(header, data, len(chunk), self.seal_protocol))
        body = b"".join(parts) + sealing.BOUNDARY + b"--\r\n"
        return body, sealing.content_type(self.seal_protocol, multi=len(parts) > 1)
