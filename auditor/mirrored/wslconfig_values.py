"""Typed value parsing for `.wslconfig` keys, emulating WSL's C/C++ conversions on its ``char`` strings.

Each function takes WSL's view of the value (a str of code points 0..255, cut at the first NUL) and returns
``(ok, value, bad_parts)``; ``bad_parts`` lists the inputs WSL warns about (one per warning it prints).
"""

from __future__ import annotations

import ipaddress
import string
from typing import Any

from auditor.mirrored.wslconfig_keys import (
    BOOL, INT, IPV4, MAC, MEMORY, MEMORY_RECLAIM_MODES, NETMODE, NETWORKING_MODES, PORTS, RECLAIM,
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_C_SPACE = " \t\n\v\f\r"
_HEX = set(string.hexdigits)


def _strtol(s: str, base: int) -> tuple[int, int]:
    """C strtol/strtoul core: returns (value, chars consumed); consumed 0 means no conversion."""
    i = 0
    while i < len(s) and s[i] in _C_SPACE:
        i += 1
    neg = False
    if i < len(s) and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    if base == 0:
        if s[i:i + 2].lower() == "0x" and i + 2 < len(s) and s[i + 2] in _HEX:
            base, i = 16, i + 2
        elif s[i:i + 1] == "0":
            base = 8
        else:
            base = 10
    elif base == 16 and s[i:i + 2].lower() == "0x" and i + 2 < len(s) and s[i + 2] in _HEX:
        i += 2
    start, value = i, 0
    while i < len(s):
        d = int(s[i], 36) if s[i].isascii() and s[i].isalnum() else 99
        if d >= base:
            break
        value = value * base + d
        i += 1
    if i == start:
        return 0, 0
    return (-value if neg else value), i


def parse_bool(v: str) -> tuple[bool, Any, list[str]]:
    if v == "1" or v.lower() == "true":
        return True, True, []
    if v == "0" or v.lower() == "false":
        return True, False, []
    return False, None, [v]


def parse_int(v: str) -> tuple[bool, Any, list[str]]:
    # strtol(value, &end, 0) on Windows (32-bit long): out-of-range values clamp to LONG_MIN/LONG_MAX silently.
    number, used = _strtol(v, 0)
    if not v or used != len(v):
        return False, None, [v]
    return True, max(INT_MIN, min(INT_MAX, number)), []


def parse_ports(v: str) -> tuple[bool, Any, list[str]]:
    # Split(value, ',') drops empty entries; std::stoi accepts leading spaces and ignores trailing junk.
    ports: set[int] = set()
    bad: list[str] = []
    for part in (p for p in v.split(",") if p):
        number, used = _strtol(part, 10)
        if used == 0 or not INT_MIN <= number <= INT_MAX or not 0 < number <= 0xFFFF:
            bad.append(v)  # WSL's warning quotes the whole value, once per bad entry
        else:
            ports.add(number)
    return True, sorted(ports), bad


def parse_ipv4(v: str) -> tuple[bool, Any, list[str]]:
    try:
        return True, str(ipaddress.IPv4Address(v)), []
    except ValueError:
        return False, None, [v]


def parse_memory(v: str) -> tuple[bool, Any, list[str]]:
    number, used = _strtol(v, 10)
    if number == 0 and not (v[:1] == "0" and used == 1):
        return False, None, [v]
    rest = v[used:]
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
             "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}
    if rest not in units:  # case-sensitive, like WSL
        return False, None, [v]
    return True, (number % 2**64) * units[rest] % 2**64, []


def parse_mac(v: str) -> tuple[bool, Any, list[str]]:
    ok = len(v) == 17 and v[2] in "-:" and all(
        v[i * 3] in _HEX and v[i * 3 + 1] in _HEX and (i == 5 or v[i * 3 + 2] == v[2]) for i in range(6)
    )
    return (True, v.lower(), []) if ok else (False, None, [v])


def parse_enum(mapping: dict[str, str]) -> Any:
    def parse(v: str) -> tuple[bool, Any, list[str]]:
        hit = mapping.get(v.lower()) if v.isascii() else None
        return (True, hit, []) if hit is not None else (False, None, [v])
    return parse


PARSERS = {
    BOOL: parse_bool, INT: parse_int, PORTS: parse_ports, IPV4: parse_ipv4, MEMORY: parse_memory, MAC: parse_mac,
    NETMODE: parse_enum(NETWORKING_MODES), RECLAIM: parse_enum(MEMORY_RECLAIM_MODES),
}


def parse_value(kind: str, wsl_value: str) -> tuple[bool, Any, list[str]]:
    """Typed value for a key kind; strings and paths are taken as they are."""
    fn = PARSERS.get(kind)
    if fn is None:
        return True, wsl_value, []
    return fn(wsl_value)
