"""Which store a command opens: --store, AUDITOR_STORE, the XDG data folder; 'none' turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import ExitCode, UsageError
from auditor.store.urls import default_store_path, display_url, parse_store_url, resolve_store_url


def test_default_is_a_sqlite_file_in_the_xdg_data_folder(tmp_path):
    assert default_store_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "auditor" / "history.db"
    assert resolve_store_url(None, {"XDG_DATA_HOME": str(tmp_path)}) == f"sqlite:///{tmp_path}/auditor/history.db"


def test_without_xdg_data_home_or_with_a_relative_one_it_is_under_home():
    expected = Path.home() / ".local" / "share" / "auditor" / "history.db"
    assert default_store_path({}) == expected
    assert default_store_path({"XDG_DATA_HOME": "relative/dir"}) == expected


def test_option_beats_environment_and_none_turns_the_store_off():
    env = {"AUDITOR_STORE": "postgresql://db/hist"}
    assert resolve_store_url(None, env) == "postgresql://db/hist"
    assert resolve_store_url("sqlite:////tmp/x.db", env) == "sqlite:////tmp/x.db"
    assert resolve_store_url("none", env) is None
    assert resolve_store_url(None, {"AUDITOR_STORE": "NONE"}) is None


def test_postgresql_urls_use_psycopg_3():
    assert parse_store_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_store_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert parse_store_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert parse_store_url("sqlite:///x.db").drivername == "sqlite"


def test_a_malformed_url_is_a_usage_error():
    with pytest.raises(UsageError) as exc:
        parse_store_url("not a url")
    assert exc.value.exit_code == ExitCode.USAGE and "--store" in str(exc.value)


def test_messages_never_show_the_password():
    shown = display_url(parse_store_url("postgresql://auditor:s3cr3t-pw@db.example/hist"))
    assert "s3cr3t-pw" not in shown and "db.example" in shown
