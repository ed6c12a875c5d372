"""The JSON report's published schema, and loading a saved report back (``auditor report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor.errors import BadInputError, Location
from auditor.results import SCHEMA_VERSION, RunResult
from auditor.rules import catalogue_of

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
    return load_report_data(data, str(path))


#: Major schema versions this auditor reads (1.x reports are upgraded on load: see ``RunResult``).
READABLE_MAJORS = ("1", "2")


def load_report_data(data: dict[str, Any], where: str = "report") -> RunResult:
    """A report's parsed JSON as a ``RunResult``; a 1.x report (no verdict catalogue) gets the catalogue of the
    verdicts it uses from the registered one, so it renders as it did."""
    version = data.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] not in READABLE_MAJORS:
        raise BadInputError(f"report schema version {version!r} is not supported; expected {SCHEMA_VERSION} "
                            f"(or an older 1.x)", Location(where))
    try:
        run = RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise BadInputError(f"does not match the report schema {version}: {loc}: {first['msg']}{more}",
                            Location(where)) from None
    if not run.verdict_catalogue:
        run.compute_summary()
        run.verdict_catalogue = catalogue_of(run.summary.by_verdict)
    return run
