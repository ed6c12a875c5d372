"""The JSON report's published schema, and loading a saved report back (``auditor report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor.errors import BadInputError, Location
from auditor.results import SCHEMA_VERSION, RunResult

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"urn:auditor:report:{SCHEMA_VERSION}"
#: A saved report larger than this is refused rather than read into memory.
MAX_REPORT_BYTES = 512 * 1024 * 1024


def report_schema() -> dict[str, Any]:
    """The JSON Schema every JSON report validates against (``auditor schema`` prints it)."""
    schema = RunResult.model_json_schema(mode="serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema,
            "description": f"auditor JSON report, schema version {SCHEMA_VERSION}"}


def load_report(path: Path) -> RunResult:
    """Read a saved JSON report; any problem is a one-line ``BadInputError`` naming the file (and line)."""
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise BadInputError(f"report is {size} bytes; at most {MAX_REPORT_BYTES} expected", Location(str(path)))
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read report: {exc.strerror or exc}", Location(str(path))) from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise BadInputError(f"not UTF-8 text (byte {exc.start}); expected a JSON report", Location(str(path))) from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"invalid JSON: {exc.msg}; expected a JSON report written by auditor",
                            Location(str(path), exc.lineno, exc.colno)) from None
    if not isinstance(data, dict):
        raise BadInputError(f"expected a JSON object (an auditor report), got {type(data).__name__}", Location(str(path), 1, 1))
    version = data.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise BadInputError(f"report schema version {version!r} is not supported; expected {SCHEMA_VERSION}",
                            Location(str(path)))
    try:
        return RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise BadInputError(f"does not match the report schema {SCHEMA_VERSION}: {where}: {first['msg']}{more}",
                            Location(str(path))) from None
