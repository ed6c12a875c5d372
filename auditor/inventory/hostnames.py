"""Host names in inventories: ``name:port`` / ``[v6]:port`` addresses and ``[a:b:step]`` ranges.

Same grammar as ansible-core: a host entry that parses as an address may carry a port; one that does
not is still accepted verbatim as a name. Ranges expand left to right, zero-padded when the start is.
"""

from __future__ import annotations

import re
import string

_NUMERIC_RANGE = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_V6 = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_V4 = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"

_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
IPV4 = re.compile(rf"^(?:{_V4}\.){{3}}{_V4}$", re.I)
IPV6 = re.compile(
    "^(" + "|".join([
        rf"(?:{_V6}:){{7}}{_V6}",
        rf"(?:{_V6}:){{1,6}}:",
        rf"(?:{_V6}:)(?::{_V6}){{1,6}}",
        rf"(?:{_V6}:){{2}}(?::{_V6}){{1,5}}",
        rf"(?:{_V6}:){{3}}(?::{_V6}){{1,4}}",
        rf"(?:{_V6}:){{4}}(?::{_V6}){{1,3}}",
        rf"(?:{_V6}:){{5}}(?::{_V6}){{1,2}}",
        rf"(?:{_V6}:){{6}}(?::{_V6})",
        rf":(?::{_V6}){{1,6}}",
        rf"{_V6}?::",
        rf"(?:0:){{6}}(?:{_V6}\.){{3}}{_V6}",
        rf"::(?:ffff:)?(?:{_V6}\.){{3}}{_V6}",
        rf"(?:0:){{5}}ffff:(?:{_V6}\.){{3}}{_V6}",
    ]) + ")$",
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)


class HostRangeError(ValueError):
    """A ``[begin:end:step]`` range that cannot be expanded."""


def parse_address(address: str) -> tuple[str, int | None] | None:
    """``(host, port)`` if ``address`` is a host name or IP with an optional port, else None."""
    port: int | None = None
    for regex in (_BRACKETED_HOSTPORT, _HOSTPORT):  # both applied in turn, as ansible does
        m = regex.match(address)
        if m:
            address, port = m.group(1), int(m.group(2))
    if IPV4.match(address) or IPV6.match(address) or _HOSTNAME.match(address):
        return address, port
    return None


def expand_host_pattern(entry: str) -> tuple[list[str], int | None]:
    """An inventory host entry -> the host names it stands for, and the port it sets (or None)."""
    parsed = parse_address(entry)
    name, port = parsed if parsed else (entry, None)
    names = expand_range(name) if "[" in name else [name]
    return names, port


def expand_range(line: str) -> list[str]:
    """Expand the first ``[begin:end(:step)]`` in ``line``, recursively for the rest."""
    try:
        head, rest = line.split("[", 1)
        body, tail = rest.split("]", 1)
    except ValueError:
        raise HostRangeError(f"unbalanced brackets in host range {line!r}") from None
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise HostRangeError("host range must be begin:end or begin:end:step")
    beg, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise HostRangeError("host range must specify end value")
    width = 0
    if beg[0] == "0" and len(beg) > 1:
        width = len(beg)
        if width != len(end):
            raise HostRangeError("host range must specify equal-length begin and end formats")
    try:
        step = int(step_text)
        if step == 0:
            raise ValueError
    except ValueError:
        raise HostRangeError(f"invalid host range step {step_text!r}") from None
    seq: list[str]
    if beg in string.ascii_letters and end in string.ascii_letters:
        i_beg, i_end = string.ascii_letters.index(beg), string.ascii_letters.index(end)
        if i_beg > i_end:
            raise HostRangeError("host range must have begin <= end")
        seq = list(string.ascii_letters[i_beg:i_end + 1:step])
    else:
        try:
            seq = [str(i).zfill(width) for i in range(int(beg), int(end) + 1, step)]
        except ValueError:
            raise HostRangeError(f"invalid host range [{body}]") from None
    out: list[str] = []
    for item in seq:
        name = f"{head}{item}{tail}"
        out.extend(expand_range(name) if "[" in name else [name])
    return out
