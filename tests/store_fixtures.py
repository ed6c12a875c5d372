"""Stores for tests: SQLite files in tmp_path, and the real PostgreSQL server (never skipped when it is down).

PostgreSQL: one database per test session (``auditor_test_<pid>_<random>``, dropped at the end) on the
server at ``AUDITOR_TEST_PG_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test, trust
auth), and inside it one schema per test (``search_path`` set through the URL), so tests never see each
other's rows nor anything else on the shared server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("AUDITOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AUDITOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _pg_connect(database: str | None = None) -> psycopg.Connection[Any]:
    url = make_url(PG_URL)
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                           password=url.password or None, dbname=database or url.database or "test",
                           autocommit=True, connect_timeout=10)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of this test session's own on the real server; its SQLAlchemy URL."""
    name = f"auditor_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _pg_connect() as conn:  # fails (never skips) when the server is not there
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_schema_url(database_url: str, schema: str) -> str:
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """An empty schema of this test's own in the session database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    db = make_url(pg_database).database
    with _pg_connect(db) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_schema_url(pg_database, schema)
    finally:
        with _pg_connect(db) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Each test using this runs twice: on a SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("pg_url"))
