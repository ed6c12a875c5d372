"""Defensive decoding of remote output (untrusted bytes)."""

from __future__ import annotations

import codecs
import re


def looks_utf16le(data: bytes) -> bool:
    """wsl.exe writes UTF-16LE without a BOM: ASCII text then has a NUL in every odd position."""
    sample = data[:512]
    if len(sample) < 4:
        return False
    odd = sample[1::2]
    return odd.count(0) >= len(odd) * 0.6 and sample[0::2].count(0) < len(sample[0::2]) * 0.2


def decode_output(data: bytes) -> str:
    """Decode bytes from a host: honour a BOM, detect BOM-less UTF-16LE, else UTF-8 with replacement."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    if looks_utf16le(data):
        return data.decode("utf-16-le", errors="replace").replace("\x00", "")
    return data.decode("utf-8", errors="replace")


def first_json_value(text: str) -> str:
    """The text from the first '{' or '[' on (PowerShell may print warnings before the JSON)."""
    m = _JSON_START.search(text)
    return text[m.start():] if m else text


_JSON_START = re.compile(r"[\[{]")
