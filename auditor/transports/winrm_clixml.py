"""Turn powershell.exe's CLIXML error stream back into the text a console would show.

A redirected stderr may mix raw text (``[Console]::Error.Write``) with one or more CLIXML
documents (``#< CLIXML`` then ``<Objs>...</Objs>``). Raw text stays; each document becomes its
``Error`` (and ``Warning``/``Verbose``) lines; progress records are dropped. Malformed XML is
left as it came: remote output is untrusted, so nothing here may raise.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_HEADER = b"#< CLIXML"
_DOC = re.compile(rb"<Objs\b.*?</Objs>", re.S)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_PREFIX = {"error": "", "warning": "WARNING: ", "verbose": "VERBOSE: ", "debug": "DEBUG: "}


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _doc_text(doc: bytes) -> bytes | None:
    try:
        root = ET.fromstring(doc)
    except ET.ParseError:
        return None
    out = []
    for el in root:
        if el.tag.rsplit("}", 1)[-1] != "S":
            continue  # progress records and other objects are not text
        stream = (el.get("S") or "").lower()
        if stream in _PREFIX:
            out.append(_PREFIX[stream] + _unescape(el.text or ""))
    return "".join(out).encode("utf-8")


def clixml_to_text(data: bytes) -> bytes:
    """``data`` with every CLIXML document replaced by its plain text."""
    if _HEADER not in data:
        return data
    out = bytearray()
    pos = 0
    for m in _DOC.finditer(data):
        text = _doc_text(m.group(0))
        if text is None:
            continue
        chunk = data[pos:m.start()]
        head = chunk.rfind(_HEADER)
        if head >= 0:  # drop the "#< CLIXML" line introducing this document
            chunk = chunk[:head] + chunk[head + len(_HEADER):].lstrip(b"\r\n")
        out += chunk + text
        pos = m.end()
    out += data[pos:]
    return bytes(out)
