"""MS-WSMV 2.2.9.1.1 message encryption framing: a SOAP body sealed with the NTLM session key
travels as ``multipart/encrypted`` with the original length and a length-prefixed signature.

Pure framing, no crypto: the caller seals and unseals (pyspnego). Both the client engine and the
lab's WinRS server use it, so the two sides cannot drift apart.
"""

from __future__ import annotations

import re
import struct

BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{SPNEGO_ENCRYPTED}";boundary="Encrypted Boundary"'
_OCTETS = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


def is_sealed(content_type: str) -> bool:
    """True for a ``multipart/encrypted`` body (whatever the case of the header)."""
    return content_type.strip().lower().startswith("multipart/encrypted")


def frame(signature: bytes, sealed: bytes, plain_length: int) -> bytes:
    """The HTTP body carrying ``sealed`` (the encrypted SOAP text) and its ``signature``."""
    return (
        BOUNDARY + b"\r\n\tContent-Type: " + SPNEGO_ENCRYPTED.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(plain_length).encode()
        + b"\r\n" + BOUNDARY + b"\r\n" + _OCTETS
        + struct.pack("<I", len(signature)) + signature + sealed + BOUNDARY + b"--\r\n"
    )


def unframe(body: bytes) -> tuple[bytes, bytes, int]:
    """(signature, sealed bytes, declared plain length) of a framed body; ``ValueError`` if malformed."""
    m = _LENGTH.search(body, 0, 512)
    start = body.find(b"application/octet-stream\r\n")
    if m is None or start < 0:
        raise ValueError("malformed encrypted body (no OriginalContent length or no octet-stream part)")
    payload = body[start + len(b"application/octet-stream\r\n"):]
    end = payload.rfind(BOUNDARY + b"--")
    if end >= 0:
        payload = payload[:end]
    if len(payload) < 4:
        raise ValueError("malformed encrypted body (truncated signature)")
    (sig_len,) = struct.unpack("<I", payload[:4])
    if sig_len > 1024 or len(payload) < 4 + sig_len:
        raise ValueError("malformed encrypted body (bad signature length)")
    return payload[4:4 + sig_len], payload[4 + sig_len:], int(m.group(1))
