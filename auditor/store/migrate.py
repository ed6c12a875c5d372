"""Bring a store's schema to the newest revision when it is opened (Alembic, run from Python).

The upgrade runs in one write transaction: on SQLite that is ``BEGIN IMMEDIATE`` (DDL is transactional
there once sqlite3's implicit transactions are off), on PostgreSQL a transaction holding an advisory
lock, so two processes opening a new store at once migrate it once, and a failed step leaves nothing
half-done. A store whose revision this auditor does not know (made by a newer version) is refused.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from auditor.errors import Location
from auditor.store.engine import StoreError, db_error_text, write_transaction
from auditor.store.urls import display_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest revision in ``migrations/versions`` (a test keeps the two in step); lets an up-to-date store
#: open without loading Alembic's script directory.
HEAD = "0003"
_PG_LOCK_KEY = 0x6175646974  # "audit": one advisory lock id for store migrations


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Migrate the store to ``target`` (default: the newest revision); a no-op when it is there already."""
    where = Location(display_url(engine.url))
    try:
        if target == "head":
            with engine.connect() as conn:
                if current_revision(conn) == HEAD:
                    return
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
    script = ScriptDirectory.from_config(alembic_config())
    if found not in {rev.revision for rev in script.walk_revisions()}:
        raise StoreError(f"the store's schema revision {found!r} is newer than this auditor knows "
                         f"(newest known: {HEAD}); upgrade auditor", where)
