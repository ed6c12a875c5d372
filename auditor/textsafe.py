"""Remote text made safe for a terminal: no control characters reach it.

A host's answer, an SSH server's disconnect reason, a WinRM fault text, a file's line: all are untrusted. A
terminal executes C0/C1 control sequences (set the title, clear the screen, move the cursor, hyperlinks),
and bidirectional-override characters reorder what is shown. ``for_terminal`` shows each as a visible escape
(``\\x1b``) instead; with rich, the result is also markup-escaped (``markup``).
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls (tab and newline are handled by the caller's choice), DEL and C1, and the Unicode bidi controls
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: object, *, one_line: bool = True) -> str:
    """``text`` with every control character shown as an escape; ``one_line`` folds newlines and tabs too."""
    value = str(text)
    if one_line:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    else:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_visible, value)


def markup(text: object, *, one_line: bool = True) -> str:
    """``for_terminal`` and rich-markup escaped: for text inside a rich markup string."""
    return escape(for_terminal(text, one_line=one_line))
