"""Remote text never drives the terminal: control sequences become visible escapes."""

from __future__ import annotations

import pytest

from auditor.textsafe import for_terminal, markup


@pytest.mark.parametrize("hostile", [
    "\x1b]0;pwned\x07",          # set the window title
    "\x1b[2J\x1b[H",             # clear the screen, cursor home
    "\x9b2J",                    # the same with a C1 CSI
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",  # a hyperlink
    "ok\u202egnp.exe",           # right-to-left override
])
def test_control_sequences_are_shown_not_executed(hostile: str) -> None:
    out = for_terminal(f"host said: {hostile}")
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u202e" for c in out), repr(out)
    assert out.startswith("host said: ")


def test_one_line_folds_newlines_and_multi_line_keeps_them() -> None:
    assert for_terminal("a\r\nb\tc") == "a b c"
    assert for_terminal("a\r\nb", one_line=False) == "a\nb"


def test_markup_is_escaped_too() -> None:
    assert markup("[bold]x[/bold]\x1b") == "\\[bold]x\\[/bold]\\x1b"
