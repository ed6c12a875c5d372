"""Server-side WinRM authentication: Basic, NTLM/Negotiate (pyspnego acceptor), client certificates,
and MS-WSMV message encryption (``multipart/encrypted`` bodies sealed with the NTLM session key).
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

from auditor.transports.wsman import sealing

CERT_MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

# pyspnego's NTLM acceptor reads its users from the file named by $NTLM_USER_FILE, at context
# creation and at each step. Hosts of one fleet may hold different passwords (a fault knob), so
# the variable is pointed at the host's own file around each synchronous step. The lock keeps
# fleets running in different threads (tests) from interleaving.
_NTLM_ENV_LOCK = threading.Lock()


@contextmanager
def _ntlm_user_file(path: str) -> Iterator[None]:
    with _NTLM_ENV_LOCK:
        old = os.environ.get("NTLM_USER_FILE")
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
    from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the lab only; not used by the client side

    return lmowfv1(password).hex().upper(), ntowfv1(password).hex().upper()


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
    """Which methods a host accepts and with what secret."""

    user: str
    password: str = field(repr=False)
    methods: frozenset[str] = frozenset({"basic", "ntlm", "certificate"})
    ntlm_user_file: str | None = None


class AuthResult:
    """The outcome of one request's Authorization header."""

    def __init__(self, ok: bool, challenge: list[str] | None = None):
        self.ok = ok
        self.challenge = challenge or []  # WWW-Authenticate values for a 401


class ConnectionAuth:
    """Per-TCP-connection auth state: NTLM authenticates the connection, not each request."""

    def __init__(self, config: AuthConfig, peer_cert: dict[str, Any] | None = None):
        self.config = config
        self.peer_cert = peer_cert
        self.ntlm: Any = None
        self.authenticated_by: str | None = None

    def default_challenge(self) -> list[str]:
        out = []
        if "ntlm" in self.config.methods:
            out.append("Negotiate")
        if "basic" in self.config.methods:
            out.append('Basic realm="WSMAN"')
        return out

    def check(self, header: str | None) -> AuthResult:
        if header is None:
            if self.authenticated_by == "ntlm":
                return AuthResult(True)
            return AuthResult(False, self.default_challenge())
        scheme, _, value = header.strip().partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic" and "basic" in self.config.methods:
            return self._basic(value.strip())
        if scheme_l in ("negotiate", "ntlm") and "ntlm" in self.config.methods:
            return self._ntlm(scheme, value.strip())
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

    def _ntlm(self, scheme: str, value: str) -> AuthResult:
        try:
            token = base64.b64decode(value)
        except binascii.Error:
            return AuthResult(False, self.default_challenge())
        assert self.config.ntlm_user_file is not None, "NTLM needs a user file"
        try:
            with _ntlm_user_file(self.config.ntlm_user_file):
                if self.ntlm is None or token[8:12] == b"\x01\x00\x00\x00":  # a NEGOTIATE restarts
                    self.ntlm = spnego.server(protocol="negotiate")
                reply = self.ntlm.step(token)
        except spnego.exceptions.SpnegoError:
            self.ntlm = None
            return AuthResult(False, self.default_challenge())
        if self.ntlm.complete:
            self.authenticated_by = "ntlm"
            return AuthResult(True)
        return AuthResult(False, [f"{scheme} {base64.b64encode(reply or b'').decode()}"])

    # --- MS-WSMV message encryption ---------------------------------------------------------

    @property
    def can_seal(self) -> bool:
        return self.authenticated_by == "ntlm" and self.ntlm is not None

    def unseal(self, body: bytes) -> bytes:
        """The SOAP text inside a ``multipart/encrypted`` request body."""
        sig, sealed, length = sealing.unframe(body)
        plain = self.ntlm.unwrap(sig + sealed).data
        if len(plain) != length:
            raise ValueError("encrypted length mismatch")
        return plain

    def seal(self, plain: bytes) -> tuple[bytes, str]:
        """(body, content type) of a sealed reply."""
        wrapped = self.ntlm.wrap(plain, encrypt=True).data
        return sealing.frame(wrapped[:16], wrapped[16:], len(plain)), sealing.CONTENT_TYPE
