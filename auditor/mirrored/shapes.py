"""Helpers for untrusted collector output: PowerShell 5.1 JSON shapes, safe JSON and base64, parser guard.

PowerShell 5.1 ``ConvertTo-Json`` sends a one-element array as a bare object, ``$null`` as null, enums as
numbers and booleans sometimes as strings; these helpers fold all of that into one shape.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from typing import Any, Callable, TypeVar

from auditor.parsers.decode import first_json_value  # noqa: F401  (re-exported for the domain parsers)
from auditor.parsers.registry import CollectorOutput, ParseError

MAX_JSON_CHARS = 8 * 1024 * 1024  # a collector document larger than this is not something we produced

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn any unexpected exception of a parser into a ParseError (parsers see arbitrary bytes)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ParseError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, OverflowError) as exc:
            raise ParseError(f"unexpected output shape ({type(exc).__name__}: {str(exc)[:200]})") from None

    return wrapper  # type: ignore[return-value]


def as_list(value: Any) -> list[Any]:
    """PS 5.1: null -> [], a bare object -> [object], an array stays an array."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_int(value: Any) -> int | None:
    """Integers as PowerShell may send them: number, numeric string, hex string ("0xFF"), bool excluded."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**63 else None
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s, 0) if s.lower().startswith("0x") else int(s)
        except ValueError:
            return None
    return None


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
    return None


def to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return None


def ci_get(mapping: Any, *names: str, default: Any = None) -> Any:
    """First of ``names`` present in ``mapping``, compared case-insensitively (Docker settings casing)."""
    if not isinstance(mapping, dict):
        return default
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default


def b64bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def load_json(text: str, what: str) -> Any:
    """json.loads with a ParseError that says what was expected."""
    text = text.strip().lstrip("\ufeff")
    if not text:
        raise ParseError(f"expected {what}, got empty output")
    if len(text) > MAX_JSON_CHARS:
        raise ParseError(f"expected {what}, got {len(text)} characters (limit {MAX_JSON_CHARS})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"expected {what}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ParseError(f"expected {what}: nesting too deep") from None


def stderr_line(out: CollectorOutput) -> str:
    from auditor.parsers.decode import decode_output

    for line in decode_output(out.stderr).splitlines():
        if line.strip() and not line.startswith("@@AUDITOR:"):
            return line.strip()[:300]
    return ""


def failed(out: CollectorOutput, what: str) -> ParseError:
    """The error for a command that produced nothing usable."""
    msg = stderr_line(out)
    rc = f"rc {out.rc}" if out.rc is not None else "no exit code"
    return ParseError(f"{what} produced no output ({rc}{': ' + msg if msg else ''})")
