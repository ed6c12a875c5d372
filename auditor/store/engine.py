"""SQLAlchemy engines tuned for the store: SQLite in WAL mode that never fails with "database is locked".

SQLite: every write transaction starts with ``BEGIN IMMEDIATE``, so a writer takes the write lock up front
and waits for it (``busy_timeout``) instead of failing when a read transaction tries to upgrade while
another process writes (SQLite returns SQLITE_BUSY at once in that case, busy handler or not). Readers
use a plain ``BEGIN`` and never wait in WAL mode. sqlite3's own implicit transactions are turned off so
that these BEGINs are the only ones (SQLAlchemy's documented recipe).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from auditor.errors import BadInputError, Location
from auditor.store.urls import display_url

#: How long a SQLite writer waits for another process's write transaction before giving up.
SQLITE_BUSY_TIMEOUT_S = 60.0
_WRITE = "auditor_write"


class StoreError(BadInputError):
    """The store cannot be used (unreachable, not a store, a newer schema) or has no such run: exit 4."""


class StoreMissing(StoreError):
    """A SQLite store that does not exist yet, opened by a command that only reads."""


def db_error_text(exc: DBAPIError) -> str:
    """The driver's message, first line only (no SQL, no parameters: they may hold host data)."""
    text = str(exc.orig).strip() if exc.orig is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, None for an in-memory database."""
    db = url.database or ""
    if not db or db == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(db)


def make_engine(url: URL, *, create: bool = True) -> Engine:
    """An engine for ``url``; a SQLite file (and its folder) is created private to the user, unless
    ``create`` is False, when a missing file is a ``StoreMissing`` error."""
    if is_sqlite(url):
        path = sqlite_file(url)
        if not create and path is not None and not path.exists():
            raise StoreMissing("no store here yet: nothing has been recorded", Location(str(path)))
        return _sqlite_engine(url)
    try:
        return create_engine(url, pool_pre_ping=True)
    except NoSuchModuleError:
        raise StoreError(f"no database driver for {url.drivername!r} (auditor ships SQLite and PostgreSQL support)",
                         Location(display_url(url))) from None
    except ImportError as exc:
        raise StoreError(f"the database driver for {url.drivername!r} is not installed: {exc}",
                         Location(display_url(url))) from None


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
    if path is None:
        kwargs["poolclass"] = StaticPool  # one shared connection: the writer thread must see the same database
    else:
        _create_private(path)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _create_private(path: Path) -> None:
    """The folder (0700) and an empty file (0600) before SQLite creates them with the umask's modes."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the store: {exc.strerror or exc}", Location(str(path))) from None


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # no implicit BEGIN from sqlite3: _sqlite_on_begin emits ours
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new, empty file only
        cur.execute("PRAGMA journal_mode = WAL")          # persistent: readers never block the writer
        cur.execute("PRAGMA synchronous = NORMAL")        # WAL + NORMAL: a killed process loses nothing committed
    finally:
        cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction (SQLite: BEGIN IMMEDIATE), committed on success."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction: one consistent snapshot for several queries."""
    with engine.connect() as conn, conn.begin():
        yield conn
