"""The defensive secret scrub that runs before any report is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.report.redact import REDACTED_MARKER, REDACTED_VALUE, redact_run, scrub
from auditor.secrets import is_secret_name as is_secret_key
from auditor.report.writers import available_formats, write_reports
from tests.report_factory import SECRET_VALUE, make_run


@pytest.mark.parametrize("key", ["password", "WinRM_Password", "ansible_ssh_pass", "api-key", "apiKey", "X-Auth-Token",
                                 "client_secret", "private_key", "ssh_key", "Authorization", "cookie", "pwd", "credentials"])
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["key", "keys", "registry_key", "networkingMode", "user", "host_key_fingerprint",
                                 "profile", "encoding", "lines", "warnings", "sha256", "KernelVersion", "passed", "compass", "pinned"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_scrub_drops_nested_secret_keys_and_lists_them() -> None:
    evidence = {"user": "dev", "proxy": {"url": "http://p:3128", "token": "t0k"}, "rows": [{"password": "x", "n": 1}]}
    out = scrub(evidence)
    assert out == {"user": "dev", "proxy": {"url": "http://p:3128", REDACTED_MARKER: ["token"]},
                   "rows": [{"n": 1, REDACTED_MARKER: ["password"]}]}
    assert evidence["proxy"]["token"] == "t0k", "the input is not modified"


def test_scrub_replaces_pem_private_keys_whatever_the_key() -> None:
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    assert scrub({"stdout": pem, "list": [pem]}) == {"stdout": REDACTED_VALUE, "list": [REDACTED_VALUE]}


def test_redact_run_scrubs_evidence_facts_and_options_without_touching_the_original() -> None:
    run = make_run(24)
    run.hosts[0].plays[0].facts = {"winrm": {"password": SECRET_VALUE}}
    clean = redact_run(run)
    dumped = clean.model_dump_json()
    assert SECRET_VALUE not in dumped
    assert SECRET_VALUE in run.model_dump_json()
    assert clean.hosts[0].plays[0].facts == {"winrm": {REDACTED_MARKER: ["password"]}}


def test_no_report_format_contains_the_secret(tmp_path: Path) -> None:
    paths = write_reports(make_run(24), available_formats(), tmp_path)
    assert len(paths) == 4
    for path in paths:
        assert SECRET_VALUE.encode() not in path.read_bytes(), path.name
