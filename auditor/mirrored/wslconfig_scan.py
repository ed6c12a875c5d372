"""The character-level `.wslconfig` scanner, a transcription of WSL's ``ParseConfigFile``.

Source: microsoft/WSL ``src/shared/configfile/configfile.cpp`` (3e27a6a). It is kept close to the original
control flow on purpose (its quirks are the point): line counting, ``#`` only outside quotes, ``;`` and any other
non-letter line start are "Invalid key name", section names are letters+digits only, a failed section header
leaves the previous section in force (and corrupts the key prefix the same way WSL does).

The scanner only emits events; typing values and first-occurrence-wins live in ``wslconfig_parse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

EOF = -1


@dataclass
class Entry:
    name: str         # "section.key" as WSL builds it (cut at the first NUL, like its C string)
    section: str
    value_units: list[int]   # UTF-16 code units of the value (WSL truncates each to a char later)
    line: int         # WSL's line counter when it applies the entry
    start_line: int


def _units(text: str) -> list[int]:
    out: list[int] = []
    for ch in text:
        cp = ord(ch)
        if cp > 0xFFFF:  # fgetwc returns UTF-16 code units: a surrogate pair is two characters
            cp -= 0x10000
            out.extend((0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)))
        else:
            out.append(cp)
    return out


def _isalpha(ch: int) -> bool:  # C locale: ASCII letters only
    return 0x41 <= ch <= 0x5A or 0x61 <= ch <= 0x7A


def _isalnum(ch: int) -> bool:
    return _isalpha(ch) or 0x30 <= ch <= 0x39


def _hspace(ch: int) -> bool:
    return ch in (0x20, 0x09)


def _cstr(s: str) -> str:
    cut = s.find("\0")
    return s if cut < 0 else s[:cut]


NL, CR, HASH, LBR, RBR, EQ, QUOTE, BSL = (ord(c) for c in "\n\r#[]=\"\\")
ESCAPES = {BSL: "\\", QUOTE: '"', ord("b"): "\b", ord("n"): "\n", ord("t"): "\t"}

# on_warning(code, line, args): args are the message arguments after the path (see wslconfig_keys.MSG)
WarnFn = Callable[[str, int, tuple[object, ...]], None]
EntryFn = Callable[[Entry], bool]   # returns False to stop parsing (WSL threw)


def scan(text: str, on_entry: EntryFn, on_warning: WarnFn) -> None:  # noqa: C901 - mirrors the C state machine
    units = _units(text)
    n = len(units)
    pos = 0

    def getc() -> int:
        nonlocal pos
        if pos < n:
            pos += 1
            return units[pos - 1]
        pos = n + 1  # reading past the end sets the stream's EOF flag
        return EOF

    def ungetc() -> None:
        nonlocal pos
        pos -= 1

    def feof() -> bool:
        return pos > n

    ch = 0
    line = 0
    trailing_comment = False
    key = ""          # WSL's reused buffer: section name, then "section.key"
    section_length = 0
    state = "newline"

    while True:
        if state == "newline":
            if not trailing_comment:
                line += 1
            state = "loop"
            continue

        if state == "loop":
            if ch == HASH:  # skip a pending comment
                while True:
                    ch = getc()
                    if ch == CR:
                        ch = getc()
                    if ch == NL:
                        line += 1
                    if ch in (NL, EOF):
                        break
                trailing_comment = False
            if feof():
                return
            ch = getc()
            while _hspace(ch):
                ch = getc()
            if ch == EOF or ch == HASH:
                continue
            if ch == CR:
                nxt = getc()
                if nxt == NL:
                    line += 1
                elif nxt != EOF:
                    ungetc()
                continue
            if ch == NL:
                line += 1
                continue
            if ch == LBR:
                state = "section"
                continue
            if not _isalpha(ch):
                on_warning("invalid-key-name", line, ())
                state = "invalid"
                continue
            state = "keyvalue"
            continue

        if state == "section":
            ch = getc()
            if not _isalpha(ch):
                on_warning("invalid-section", line, ())
                state = "invalid"
                continue
            key = ""
            while True:
                key += chr(ch)
                ch = getc()
                if not _isalnum(ch):
                    break
            if ch != RBR:
                on_warning("expected", line, ("']'",))
                state = "invalid"
                continue
            ch = getc()
            while _hspace(ch):
                ch = getc()
            if ch == HASH:
                trailing_comment = True
            elif ch not in (EOF, NL, CR):
                on_warning("expected", line, ("' ' or '\\n'",))
                state = "invalid"
                continue
            section_length = len(key)
            state = "newline"
            continue

        if state == "keyvalue":
            start_line = line
            # key.resize(sectionLength): may keep a half-read section name from a failed header, NUL padded
            key = (key[:section_length] + "\0" * section_length)[:section_length]
            section = _cstr(key)
            if key:
                key += "."
            while True:
                key += chr(ch)
                ch = getc()
                if not _isalnum(ch):
                    break
            while _hspace(ch):
                ch = getc()
            if ch != EQ:
                on_warning("expected", line, ("'='",))
                state = "invalid"
                continue
            ch = getc()
            while _hspace(ch):
                ch = getc()
            value: list[int] = []
            trimmed = 0
            in_quote = False
            bad_escape = False
            while ch not in (EOF, NL, CR):
                if ch == QUOTE:
                    in_quote = not in_quote
                elif ch == BSL:
                    ch2 = getc()
                    if ch2 in ESCAPES:
                        value.append(ord(ESCAPES[ch2]))
                    elif ch2 == CR:
                        pass
                    elif ch2 == NL:
                        line += 1  # line continuation
                    else:
                        on_warning("invalid-escape", line, ("\uffff" if ch2 == EOF else chr(ch2),))
                        bad_escape = True
                        break
                elif ch == HASH and not in_quote:
                    trailing_comment = True
                    break
                else:
                    value.append(ch)
                if not _hspace(ch):
                    trimmed = len(value)
                ch = getc()
            if bad_escape:
                state = "invalid"
                continue
            if in_quote:
                on_warning("expected", line, ('"',))
                state = "invalid"
                continue
            entry = Entry(_cstr(key), section, value[:trimmed], line, start_line)
            if not on_entry(entry):
                return
            state = "newline"
            continue

        if state == "invalid":
            while ch not in (EOF, NL):
                ch = getc()
            state = "newline"
            continue
