"""JSON report: the published schema, validation of factory-made runs, loading saved reports back."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from auditor.cli import main
from auditor.errors import BadInputError
from auditor.report.redact import redact_run
from auditor.report.schema import SCHEMA_ID, load_report, report_schema
from auditor.report.writers import write_reports
from auditor.results import SCHEMA_VERSION
from tests.report_factory import make_run


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_schema_names_its_dialect_and_version() -> None:
    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID and SCHEMA_VERSION in schema["$id"]
    assert set(schema["required"]) >= {"run_id", "auditor_version", "started"}


@pytest.mark.parametrize("n_hosts", [1, 16, 24, 60])
def test_written_json_reports_validate_against_the_schema(tmp_path: Path, validator, n_hosts: int) -> None:
    (path,) = write_reports(make_run(n_hosts, hostile=n_hosts > 1), ["json"], tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = sorted(validator.iter_errors(document), key=str)
    assert errors == []
    assert len(document["hosts"]) == n_hosts


def test_schema_rejects_a_report_with_a_bad_verdict_confidence(tmp_path: Path, validator) -> None:
    (path,) = write_reports(make_run(16), ["json"], tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["hosts"][0]["plays"][0]["verdict"]["confidence"] = "certain"
    assert not validator.is_valid(document)


def test_schema_command_prints_the_schema(capsys) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == report_schema()


def test_saved_report_loads_back_equal(tmp_path: Path) -> None:
    run = make_run(24, hostile=False)
    (path,) = write_reports(run, ["json"], tmp_path)
    assert load_report(path) == redact_run(run)


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text('{\n  "run_id": "x",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        load_report(bad)
    assert str(info.value).startswith(f"{bad}:3:3: invalid JSON")


def test_schema_mismatch_names_the_field(tmp_path: Path) -> None:
    (path,) = write_reports(make_run(16), ["json"], tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["hosts"][2]["status"] = "exploded"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        load_report(path)
    assert str(info.value).startswith(f"{path}: does not match the report schema")
    assert "hosts.2.status" in str(info.value)


@pytest.mark.parametrize("content, expected", [
    ('{"schema_version": "9.0", "run_id": "x"}', "report schema version '9.0' is not supported"),
    ("[1, 2]", "expected a JSON object"),
])
def test_other_bad_reports(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "r.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError, match="^" + str(bad).replace(".", r"\.") + ".*" + expected.replace("[", r"\[")):
        load_report(bad)


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read report"):
        load_report(tmp_path / "absent.json")
