"""MS-WSMV 2.2.9.1 message encryption framing: a SOAP body sealed with the authentication's session
(NTLM or Kerberos inside Negotiate, or CredSSP's TLS channel) travels as ``multipart/encrypted`` with
the original length and a length-prefixed signature (Kerberos: the wrap header; CredSSP: the TLS
trailer). CredSSP seals at most 16 KiB per part: longer bodies are ``multipart/x-multi-encrypted``.

Pure framing, no crypto: the caller seals and unseals (pyspnego's ``wrap_winrm``/``unwrap_winrm``).
Both the client engine and the lab's WinRS server use it, so the two sides cannot drift apart.
"""

from __future__ import annotations

import re
import struct

BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"      # Negotiate: NTLM or Kerberos
CREDSSP_ENCRYPTED = "application/HTTP-CredSSP-session-encrypted"
CREDSSP_CHUNK = 16 * 1024
_OCTETS = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


def content_type(protocol: str = SPNEGO_ENCRYPTED, multi: bool = False) -> str:
    kind = "multipart/x-multi-encrypted" if multi else "multipart/encrypted"
    return f'{kind};protocol="{protocol}";boundary="Encrypted Boundary"'


CONTENT_TYPE = content_type()


def is_sealed(content_type: str) -> bool:
    """True for a ``multipart/encrypted`` (or x-multi-encrypted) body, whatever the case of the header."""
    return content_type.strip().lower().startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))


def frame_part(signature: bytes, sealed: bytes, plain_length: int, protocol: str = SPNEGO_ENCRYPTED) -> bytes:
    """One sealed part: ``sealed`` (the encrypted SOAP text) and its ``signature``, no closing boundary."""
    return (
        BOUNDARY + b"\r\n\tContent-Type: " + protocol.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(plain_length).encode()
        + b"\r\n" + BOUNDARY + b"\r\n" + _OCTETS
        + struct.pack("<I", len(signature)) + signature + sealed
    )


def frame(signature: bytes, sealed: bytes, plain_length: int, protocol: str = SPNEGO_ENCRYPTED) -> bytes:
    """The HTTP body carrying one sealed part."""
    return frame_part(signature, sealed, plain_length, protocol) + BOUNDARY + b"--\r\n"


def unframe_all(body: bytes) -> list[tuple[bytes, bytes, int]]:
    """(signature, sealed bytes, declared plain length) of every part; ``ValueError`` if malformed."""
    end = body.rfind(BOUNDARY + b"--")
    if end >= 0:
        body = body[:end]
    chunks = [c for c in body.split(BOUNDARY + b"\r\n") if c]
    if not chunks or len(chunks) % 2:
        raise ValueError("malformed encrypted body (parts do not pair up)")
    parts = []
    for header, payload in zip(chunks[0::2], chunks[1::2]):
        m = _LENGTH.search(header, 0, 512)
        if m is None or not payload.startswith(_OCTETS):
            raise ValueError("malformed encrypted body (no OriginalContent length or no octet-stream part)")
        payload = payload[len(_OCTETS):]
        if len(payload) < 4:
            raise ValueError("malformed encrypted body (truncated signature)")
        (sig_len,) = struct.unpack("<I", payload[:4])
        if sig_len > 1024 or len(payload) < 4 + sig_len:
            raise ValueError("malformed encrypted body (bad signature length)")
        parts.append((payload[4:4 + sig_len], payload[4 + sig_len:], int(m.group(1))))
    return parts


def unframe(body: bytes) -> tuple[bytes, bytes, int]:
    """The single part of a ``multipart/encrypted`` body."""
    parts = unframe_all(body)
    if len(parts) != 1:
        raise ValueError(f"malformed encrypted body ({len(parts)} parts where one was expected)")
    return parts[0]
