"""The parser registry. A playbook names a parser per collector; the name resolves here.

Domain parsers (``auditor.mirrored``) register themselves on import; ``get_parser`` imports the
plugin modules listed in ``PLUGIN_MODULES`` on first use so playbooks can name them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


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
_PARSERS: dict[str, ParserFn] = {}
PLUGIN_MODULES = ["auditor.parsers.builtin", "auditor.mirrored"]
_loaded = False


def register_parser(name: str) -> Callable[[ParserFn], ParserFn]:
    def deco(fn: ParserFn) -> ParserFn:
        _PARSERS[name] = fn
        return fn

    return deco


def load_plugin_modules(modules: list[str]) -> None:
    """Import plugin modules so they register; a plugin package that does not exist is skipped."""
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a missing plugin must not break the core
            if exc.name != mod:
                raise


def _load_plugins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        load_plugin_modules(PLUGIN_MODULES)


def get_parser(name: str) -> ParserFn | None:
    _load_plugins()
    return _PARSERS.get(name)


def known_parsers() -> list[str]:
    _load_plugins()
    return sorted(_PARSERS)
