"""Editing `.wslconfig` bytes: a PURE function, table-tested (tests/unit/test_remediate_wslconfig_edit.py).

    edit_wslconfig(data, sections=["wsl2"], key="networkingMode", state="commented") -> Edit

What it preserves, byte for byte outside the lines it touches: the encoding (UTF-8, UTF-8 with BOM,
UTF-16LE/BE with BOM, UTF-16 without BOM), every line's own ending (CRLF, LF or none on the last line)
and invalid UTF-8 bytes (round-tripped with surrogateescape). New lines use the file's dominant ending.

Line grammar follows WSL's parser (auditor/mirrored/wslconfig_scan.py): a section header is ``[name]`` with
name ``[A-Za-z][A-Za-z0-9]*``; a key line is ``name = value`` after optional spaces/tabs; ``#`` starts a
comment (``;`` does not: WSL warns "Invalid key name" and skips the line); names compare case-insensitively;
a value ending in ``\\`` continues on the next line.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from auditor.mirrored.wslconfig_decode import decode_wslconfig

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_SECTION = re.compile(r"^[ \t]*\[([A-Za-z][A-Za-z0-9]*)\]")
_KEY = re.compile(r"^([ \t]*)([A-Za-z][A-Za-z0-9]*)([ \t]*=[ \t]*)(.*)$", re.S)
_BAD_VALUE_CHARS = ("\r", "\n", "#", '"', "\\", "\x00")
STATES = ("present", "absent", "commented")
MAX_DIFF_CHARS = 64 * 1024

# encoding name (from decode_wslconfig) -> (codec, BOM bytes)
_CODECS = {
    "empty": ("utf-8", b""),
    "utf-8": ("utf-8", b""),
    "utf-8-bom": ("utf-8", b"\xef\xbb\xbf"),
    "utf-16le-bom": ("utf-16-le", b"\xff\xfe"),
    "utf-16be-bom": ("utf-16-be", b"\xfe\xff"),
    "utf-16le-no-bom": ("utf-16-le", b""),
    "utf-16be-no-bom": ("utf-16-be", b""),
}


class EditError(ValueError):
    """The requested edit is invalid or the file cannot be edited safely; the message is safe to show."""


@dataclass
class Edit:
    changed: bool
    data: bytes                  # the new bytes (== input when unchanged)
    encoding: str
    newline: str                 # "\r\n" or "\n": what new lines use
    diff: str = ""               # unified diff of the text (empty when unchanged)
    notes: list[str] = field(default_factory=list)


def validate_request(sections: list[str], key: str, state: str, value: str | None) -> None:
    if state not in STATES:
        raise EditError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    if not sections:
        raise EditError("give at least one section")
    for name in [*sections, key]:
        if not NAME_RE.match(name or ""):
            raise EditError(f"{name!r} is not a WSL section or key name (letters and digits, starting with a letter)")
    if state == "present":
        if value is None or value == "":
            raise EditError("state=present needs a non-empty value")
        bad = [c for c in _BAD_VALUE_CHARS if c in value]
        if bad or value != value.strip():
            raise EditError(f"value {value!r} would not survive WSL's parser (no newlines, #, quotes, backslashes "
                            "or surrounding spaces)")


def _decode(data: bytes) -> tuple[str, str, bytes, str]:
    """(encoding, codec, bom, text). UTF-8 keeps undecodable bytes as surrogates so they round-trip."""
    decoded = decode_wslconfig(data[:0] if not data else data[:4096])  # the BOM/NUL sniff needs only the start
    encoding = decoded.encoding
    if encoding not in _CODECS:
        raise EditError(f"cannot edit a file in encoding {encoding!r}")
    codec, bom = _CODECS[encoding]
    body = data[len(bom):]
    if codec == "utf-8":
        return encoding, codec, bom, body.decode("utf-8", "surrogateescape")
    if len(body) % 2:
        raise EditError(f"the file is {encoding} but has an odd number of bytes; refusing to edit it")
    try:
        return encoding, codec, bom, body.decode(codec, "surrogatepass")
    except UnicodeDecodeError:
        raise EditError(f"the file is not valid {encoding}; refusing to edit it") from None


def _encode(text: str, codec: str, bom: bytes) -> bytes:
    return bom + text.encode(codec, "surrogateescape" if codec == "utf-8" else "surrogatepass")


def _dominant_newline(lines: list[str]) -> str:
    crlf = sum(1 for ln in lines if ln.endswith("\r\n"))
    lf = sum(1 for ln in lines if ln.endswith("\n") and not ln.endswith("\r\n"))
    if lf > crlf:
        return "\n"
    return "\r\n"  # Windows default, also for empty and one-line files


def _split_comment(value: str) -> tuple[str, str]:
    """(value, trailing comment incl. the spaces before '#'), with '#' inside quotes not a comment."""
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            j = i
            while j > 0 and value[j - 1] in " \t":
                j -= 1
            return value[:j], value[j:]
    return value.rstrip(" \t"), value[len(value.rstrip(" \t")):]


@dataclass
class _KeyLine:
    index: int          # first physical line
    count: int          # physical lines (continuations)
    section: str | None
    indent: str
    name: str
    sep: str
    value: str          # without comment and line ending
    comment: str
    ending: str


def _body(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def _scan(lines: list[str]) -> tuple[list[_KeyLine], dict[str, tuple[int, int]]]:
    """Key lines and, per section (lower-case), (header index, index after its last non-blank line)."""
    keys: list[_KeyLine] = []
    sections: dict[str, tuple[int, int]] = {}
    current: str | None = None
    i = 0
    while i < len(lines):
        text, ending = _body(lines[i])
        m = _SECTION.match(text)
        if m:
            current = m.group(1).lower()
            sections.setdefault(current, (i, i + 1))
            i += 1
            continue
        count = 1
        km = _KEY.match(text)
        if km:
            # a value ending in a backslash continues on the next physical line (WSL's parser)
            while _body(lines[i + count - 1])[0].endswith("\\") and i + count < len(lines):
                count += 1
            value, comment = _split_comment(km.group(4))
            keys.append(_KeyLine(i, count, current, km.group(1), km.group(2), km.group(3), value, comment,
                                 _body(lines[i + count - 1])[1]))
        if current is not None and text.strip() and current in sections:
            head, _ = sections[current]
            sections[current] = (head, i + count)
        i += count
    return keys, sections


def _merge(existing: str, wanted: str) -> str:
    have = [p.strip() for p in existing.split(",") if p.strip()]
    seen = {p.lower() for p in have}
    for part in (p.strip() for p in wanted.split(",")):
        if part and part.lower() not in seen:
            have.append(part)
            seen.add(part.lower())
    return ",".join(have)


def edit_wslconfig(data: bytes, *, sections: list[str], key: str, state: str, value: str | None = None,
                   merge_list: bool = False, label: str = ".wslconfig") -> Edit:
    """Set (``present``), remove (``absent``) or comment out (``commented``) ``key`` in ``sections``.

    ``present`` edits the first active occurrence in the first section that has one (WSL keeps the first), or
    adds ``key=value`` at the end of the first listed section (creating it at the end of the file).
    ``merge_list`` treats the value as a comma list and adds only the missing items (``ignoredPorts``).
    Raises EditError for invalid requests or files that cannot be edited without damage.
    """
    validate_request(sections, key, state, value)
    encoding, codec, bom, text = _decode(data)
    lines = text.splitlines(keepends=True)
    # splitlines also splits on \x0b, \x1c, U+2028...; WSL only knows \n: rejoin anything else
    lines = _rejoin(lines)
    newline = _dominant_newline(lines)
    wanted = {s.lower() for s in sections}
    keys, found = _scan(lines)
    matches = [k for k in keys if k.section in wanted and k.name.lower() == key.lower()]
    notes: list[str] = []
    new = list(lines)

    if state == "present":
        assert value is not None
        first = matches[0] if matches else None
        if first is not None:
            target = _merge(first.value, value) if merge_list else value
            if first.value != target or first.count > 1:
                new[first.index:first.index + first.count] = [
                    f"{first.indent}{first.name}{first.sep}{target}{first.comment}{first.ending}"
                ] + [""] * (first.count - 1)
            if len(matches) > 1:
                notes.append(f"{key} appears {len(matches)} times; WSL uses the first, the others were left alone")
        else:
            target = value
            _insert(new, found, sections[0], f"{key}={target}", newline)
    else:
        for k in reversed(matches):
            if state == "absent":
                new[k.index:k.index + k.count] = [""] * k.count
            else:
                new[k.index:k.index + k.count] = [
                    f"{k.indent}#{line[len(k.indent):]}" if j == 0 else f"#{line}"
                    for j, line in enumerate(lines[k.index:k.index + k.count])
                ]
    out_text = "".join(new)
    if out_text == text:
        return Edit(False, data, encoding, newline, notes=notes)
    out = _encode(out_text, codec, bom)
    return Edit(True, out, encoding, newline, diff=unified_diff(text, out_text, label), notes=notes)


def _rejoin(lines: list[str]) -> list[str]:
    out: list[str] = []
    for ln in lines:
        if out and not out[-1].endswith("\n"):
            out[-1] += ln
        else:
            out.append(ln)
    return out


def _insert(lines: list[str], found: dict[str, tuple[int, int]], section: str, entry: str, newline: str) -> None:
    if section.lower() in found:
        _, after = found[section.lower()]
        if after > 0 and not lines[after - 1].endswith("\n"):
            lines[after - 1] += newline
        lines.insert(after, entry + newline)
        return
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    block = [f"[{section}]{newline}", entry + newline]
    if any(ln.strip() for ln in lines):
        block.insert(0, newline)
    lines.extend(block)


def unified_diff(before: str, after: str, label: str) -> str:
    """A unified diff of two texts (line endings shown as the lines themselves), bounded in size."""
    a = [ln.rstrip("\r\n") + "\n" for ln in before.splitlines(keepends=True)]
    b = [ln.rstrip("\r\n") + "\n" for ln in after.splitlines(keepends=True)]
    diff = "".join(difflib.unified_diff(a, b, f"before: {label}", f"after: {label}"))
    diff = diff.encode("utf-8", "replace").decode("utf-8")  # surrogates (invalid bytes) shown as '?'
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + "\n... (diff cut)\n"
    return diff
