"""Generic parsers any playbook can name: raw, lines, json, ndjson, keyvalue, rc."""

from __future__ import annotations

import json
from typing import Any

from auditor.parsers.registry import CollectorOutput, ParseError, register_parser


@register_parser("raw")
def parse_raw(out: CollectorOutput) -> dict[str, Any]:
    """The decoded text, stderr and exit code as they are."""
    from auditor.parsers.decode import decode_output

    return {"stdout": out.text(), "stderr": decode_output(out.stderr), "rc": out.rc}


@register_parser("text")
def parse_text(out: CollectorOutput) -> str:
    return out.text().strip()


@register_parser("lines")
def parse_lines(out: CollectorOutput) -> list[str]:
    return [line.rstrip("\r") for line in out.text().splitlines() if line.strip()]


@register_parser("rc")
def parse_rc(out: CollectorOutput) -> int | None:
    return out.rc


@register_parser("json")
def parse_json(out: CollectorOutput) -> Any:
    text = out.text().strip()
    if not text:
        raise ParseError("expected a JSON document, got empty output")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"expected a JSON document: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ParseError("expected a JSON document: nesting too deep") from None


@register_parser("ndjson")
def parse_ndjson(out: CollectorOutput) -> list[Any]:
    items = []
    for n, line in enumerate(out.text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ParseError(f"expected one JSON object per line: line {n}: {exc.msg}") from None
        except RecursionError:
            raise ParseError(f"expected one JSON object per line: line {n}: nesting too deep") from None
    return items


@register_parser("keyvalue")
def parse_keyvalue(out: CollectorOutput) -> dict[str, str]:
    """KEY=value lines (``/etc/os-release`` style); quotes around values removed."""
    result: dict[str, str] = {}
    for line in out.text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        result[key.strip()] = value
    return result
