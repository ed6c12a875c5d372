"""wsl.exe output: ``wsl --version`` and ``wsl -l -v`` (UTF-16LE without BOM unless WSL_UTF8=1)."""

from __future__ import annotations

import re
from typing import Any

from auditor.mirrored.shapes import guarded
from auditor.parsers.decode import decode_output
from auditor.parsers.registry import CollectorOutput, ParseError, register_parser

# `wsl --version` prints 7 lines in this order; the labels are localized, so we go by position (resw
# MessagePackageVersions).
VERSION_FIELDS = ("wsl", "kernel", "wslg", "msrdc", "direct3d", "dxcore", "windows")
_VERSIONISH = re.compile(r"\d+(?:\.\d+)+\S*")
_STATES = {"running", "stopped", "installing", "uninstalling", "converting", "exporting"}


def decode_wsl(data: bytes) -> str:
    """Decode wsl.exe bytes: UTF-16LE (BOM or not) or UTF-8; NULs and odd separators dropped."""
    return decode_output(data).replace("\x00", "").replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")


def parse_wsl_version_bytes(data: bytes) -> dict[str, Any]:
    """``wsl --version`` -> {"wsl": "2.3.24.0", "kernel": ..., "windows": ...}; ParseError when it is not that."""
    lines = [ln.strip() for ln in decode_wsl(data).split("\n") if ln.strip()]
    values: dict[str, Any] = {}
    for field, line in zip(VERSION_FIELDS, lines):
        # value after the label's colon (ASCII or full-width); fall back to the last version-looking token
        parts = re.split(r"[:\uff1a]", line, maxsplit=1)
        value = parts[1].strip() if len(parts) == 2 else ""
        if not _VERSIONISH.match(value):
            found = _VERSIONISH.findall(line)
            value = found[-1] if found else ""
        values[field] = value or None
    if not values.get("wsl") or not _VERSIONISH.fullmatch(values["wsl"] or ""):
        first = lines[0][:120] if lines else ""
        raise ParseError(f"expected `wsl --version` output (7 'label: version' lines), got {first!r}"
                         " (inbox WSL has no --version)")
    return values


def parse_wsl_list_text(text: str) -> list[dict[str, Any]]:
    """``wsl -l -v`` -> [{"name", "state", "version", "default"}]. 'no installed distributions' -> []."""
    rows = []
    for line in text.replace("\x00", "").splitlines():
        if not line.strip():
            continue
        default = line.lstrip().startswith("*")
        tokens = line.replace("*", " ", 1).split() if default else line.split()
        if len(tokens) < 3 or not tokens[-1].isdigit() or tokens[-2].lower() not in _STATES:
            continue  # header (NAME STATE VERSION, not localized) or a localized message line
        rows.append({"name": " ".join(tokens[:-2]), "state": tokens[-2], "version": int(tokens[-1]), "default": default})
    return rows


@register_parser("mirrored.wsl_version")
@guarded
def parse_wsl_version(out: CollectorOutput) -> dict[str, Any]:
    return parse_wsl_version_bytes(out.stdout)


@register_parser("mirrored.wsl_list")
@guarded
def parse_wsl_list(out: CollectorOutput) -> list[dict[str, Any]]:
    return parse_wsl_list_text(decode_wsl(out.stdout))
