"""Bring a store's schema to the newest revision when it is opened (Alembic, run from Python).

The upgrade runs in one write transaction: on SQLite that is ``BEGIN IMMEDIATE`` (DDL is transactional
there once sqlite3's implicit transactions are off), on PostgreSQL a transaction holding an advisory
lock, so two processes opening a new store at once migrate it once, and a failed step leaves nothing
half-done. A store whose revision this auditor does not know (made by a newer version) is refused.

Alembic is imported only when a store is not at the newest revision: an up-to-date store (every run but the
first) is checked with one query, and importing Alembic (with Mako) costs ~0.13 s of CPU per command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from auditor.errors import Location
from auditor.store.engine import StoreError, db_error_text, write_transaction
from auditor.store.urls import display_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest revision in ``migrations/versions`` (a test keeps the two in step); lets an up-to-date store
#: open without loading Alembic's script directory.
HEAD = "0003"
_PG_LOCK_KEY = 0x6175646974  # "audit": one advisory lock id for store migrations
#: Alembic's default version table, which migrations/env.py keeps.
VERSION_TABLE = "alembic_version"

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def stored_revision(conn: Connection) -> str | None:
    """The store's revision read as Alembic reads it (its version table), without importing Alembic; None for a
    new store or one with several heads (left to Alembic)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    revisions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return revisions[0] if len(revisions) == 1 else None


def upgrade(engine: Engine, target: str = "head") -> None:
    """Migrate the store to ``target`` (default: the newest revision); a no-op when it is there already."""
    where = Location(display_url(engine.url))
    try:
        if target == "head":
            with engine.connect() as conn:
                if stored_revision(conn) == HEAD:
                    return
        from alembic import command

        with write_transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            _check_known(conn, where)
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
    except DBAPIError as exc:
        raise StoreError(f"cannot open the store: {db_error_text(exc)}", where) from None


def _check_known(conn: Connection, where: Location) -> None:
    found = current_revision(conn)
    if found is None:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    if found not in {rev.revision for rev in script.walk_revisions()}:
        raise StoreError(f"the store's schema revision {found!r} is newer than this auditor knows "
                         f"(newest known: {HEAD}); upgrade auditor", where)
