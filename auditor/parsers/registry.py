"""The parser registry. A playbook names a parser per collector; the name resolves here.

Parsers register with ``PARSERS`` (``auditor.plugins``) when their module is imported; the first lookup
imports every plugin module (the built-in parsers, the domain, entry points), so playbooks can name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from auditor.plugins import Registry


class ParseError(ValueError):
    """The output did not have the expected shape. The message says what was expected."""


@dataclass(frozen=True)
class CollectorOutput:
    name: str
    stdout: bytes
    stderr: bytes
    rc: int | None
    truncated: bool = False
    platform: str = "linux"

    def text(self) -> str:
        """stdout decoded defensively (BOM / UTF-16LE aware, never raises)."""
        from auditor.parsers.decode import decode_output

        return decode_output(self.stdout)


ParserFn = Callable[[CollectorOutput], Any]
PARSERS: Registry[ParserFn] = Registry("parser")


def register_parser(name: str) -> Callable[[ParserFn], ParserFn]:
    return PARSERS.register(name)


def get_parser(name: str) -> ParserFn | None:
    return PARSERS.get(name)


def known_parsers() -> list[str]:
    return PARSERS.names()
