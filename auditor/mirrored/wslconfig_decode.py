"""Bytes -> characters, the way WSL reads `.wslconfig`.

WSL opens the file with ``_wfopen(path, L"rt,ccs=UTF-8")`` (src ``WslCoreConfig.cpp``). Per the Microsoft CRT
docs for ``ccs=UTF-8``: no BOM -> UTF-8, UTF-8 BOM -> UTF-8, UTF-16 (FF FE) BOM -> UTF-16LE. Text mode folds
CRLF to LF. Everything else here is inference and says so in its warning.
"""

from __future__ import annotations

import hashlib

from auditor.mirrored.wslconfig_model import DecodedConfig, ParserWarning

MAX_BYTES = 64 * 1024
_CTRL_Z = "\x1a"


def _text_mode(text: str) -> str:
    """CRT text-mode translation: CRLF -> LF; Ctrl-Z ends the file (inference: UCRT text mode)."""
    text = text.replace("\r\n", "\n")
    cut = text.find(_CTRL_Z)
    return text if cut < 0 else text[:cut]


def _lines(text: str) -> list[dict[str, object]]:
    if not text:
        return []
    rows = text.replace("\r\n", "\n").split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    return [{"n": i, "text": row.rstrip("\r")} for i, row in enumerate(rows, start=1)]


def _nul_pattern(data: bytes) -> str | None:
    """Guess UTF-16 without BOM from where the NUL bytes sit (ASCII text: every other byte is 0)."""
    if b"\x00" not in data or len(data) < 2:
        return None
    odd = data[1::2].count(0)
    even = data[0::2].count(0)
    half = len(data) // 2
    if odd >= max(1, half // 3) and odd > 2 * even:
        return "utf-16le-no-bom"
    if even >= max(1, half // 3) and even > 2 * odd:
        return "utf-16be-no-bom"
    return "nul"


def _strict_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _w(code: str, message: str) -> ParserWarning:
    return ParserWarning(code=code, message=message, source="auditor")


def decode_wslconfig(data: bytes) -> DecodedConfig:
    """Decode `.wslconfig` bytes as WSL would. Never raises; input beyond 64 KiB is ignored (flagged)."""
    data = bytes(data or b"")
    size = len(data)
    digest = hashlib.sha256(data).hexdigest()
    truncated = size > MAX_BYTES
    data = data[:MAX_BYTES]
    warnings: list[ParserWarning] = []
    if truncated:
        warnings.append(_w("too-large", f"The file is {size} bytes; only the first {MAX_BYTES} bytes were examined."))

    readable = True
    bom = False
    if not data:
        encoding, wsl_text, text = "empty", "", ""
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding, bom = "utf-8-bom", True
        wsl_text = text = data[3:].decode("utf-8", "replace")
    elif data.startswith(b"\xff\xfe"):
        encoding, bom = "utf-16le-bom", True
        wsl_text = text = data[2:].decode("utf-16-le", "replace")
    elif data.startswith(b"\xfe\xff"):
        encoding, bom, readable, wsl_text = "utf-16be-bom", True, False, None
        text = data[2:].decode("utf-16-be", "replace")
        warnings.append(_w(
            "encoding-utf16be",
            "The file is UTF-16 big-endian. WSL's C runtime (ccs=UTF-8) only understands a UTF-16 little-endian "
            "BOM: it either refuses to open the file or reads garbage (inference); no setting in it applies, "
            "so WSL uses its defaults (NAT). Re-save the file as UTF-8.",
        ))
    else:
        encoding = "utf-8"
        wsl_text = data.decode("utf-8", "replace")
        text = wsl_text
        pattern = _nul_pattern(data)
        if pattern in ("utf-16le-no-bom", "utf-16be-no-bom"):
            encoding, readable = pattern, False
            text = data.decode("utf-16-le" if pattern == "utf-16le-no-bom" else "utf-16-be", "replace")
            warnings.append(_w(
                "encoding-utf16-no-bom",
                f"The file looks like {'UTF-16LE' if pattern == 'utf-16le-no-bom' else 'UTF-16BE'} without a BOM. "
                "WSL reads a file without BOM as UTF-8, so every other character is a NUL: each line gets an "
                "'Invalid key name' or similar warning and no setting applies; WSL uses its defaults (NAT). "
                "Re-save the file as UTF-8 (inference from the CRT ccs=UTF-8 rules).",
            ))
        elif pattern == "nul":
            warnings.append(_w(
                "encoding-nul",
                "The file contains NUL bytes. WSL reads it as UTF-8; a NUL ends a value early and makes a line "
                "start invalid, so settings near a NUL may be ignored.",
            ))
        if readable and not _strict_utf8(data):
            warnings.append(_w(
                "encoding-invalid-utf8",
                "The file is not valid UTF-8 (perhaps saved in a legacy code page). WSL replaces the bad bytes; "
                "keys and values containing them will not match.",
            ))

    if wsl_text is not None:
        if _CTRL_Z in wsl_text.replace("\r\n", "\n"):
            warnings.append(_w(
                "ctrl-z",
                "The file contains a Ctrl-Z (0x1A) character. The C runtime's text mode treats it as the end of "
                "the file, so WSL ignores everything after it (inference).",
            ))
        wsl_text = _text_mode(wsl_text)

    return DecodedConfig(
        encoding=encoding, bom=bom, size=size, truncated=truncated, sha256=digest,
        readable_by_wsl=readable, wsl_text=wsl_text, text=text, lines=_lines(text), warnings=warnings,
    )
