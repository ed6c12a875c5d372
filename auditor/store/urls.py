"""Which store a command uses: ``--store URL``, else ``AUDITOR_STORE``, else a SQLite file in the data folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from auditor.errors import UsageError

STORE_ENV = "AUDITOR_STORE"
#: The value of ``--store`` / ``AUDITOR_STORE`` that turns the store off.
DISABLED = "none"


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/auditor/history.db``, else ``~/.local/share/auditor/history.db``.

    A relative ``XDG_DATA_HOME`` is ignored, as the XDG base directory spec says."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "auditor" / "history.db"


def default_store_url(env: Mapping[str, str] | None = None) -> str:
    return f"sqlite:///{default_store_path(env)}"


def resolve_store_url(option: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The store URL a command should open, or None when the store is turned off (``none``)."""
    env = os.environ if env is None else env
    value = option if option is not None else env.get(STORE_ENV)
    if value is None or not value.strip():
        return default_store_url(env)
    if value.strip().lower() == DISABLED:
        return None
    return value.strip()


def parse_store_url(url: str) -> URL:
    """A SQLAlchemy URL; ``postgresql://`` (and ``postgres://``) use psycopg 3, the driver auditor ships."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"--store: {url!r} is not a database URL (expected e.g. sqlite:///path/history.db, "
                         "postgresql://user@host/db or 'none')") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: URL | str) -> str:
    """The URL for messages: never with its password."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)
