"""The store's tables as of the newest migration (SQLAlchemy Core), which every query uses.

The migrations in ``auditor/store/migrations/versions`` create these same tables step by step (they spell
out their own DDL, as migrations must); ``tests/unit/test_store_migrations.py`` checks that the
migrated database and this module agree.

- ``runs``: one row per run (audit or remediation), with its state and owner's heartbeat.
- ``host_results``: one row per run x host: outcome, headline verdict, a digest of its check statuses and
  the whole scrubbed, bounded ``HostResult`` (zlib-compressed JSON) so a stored run renders again.
- ``check_results``: one row per run x host x check key: status, severity, message, evidence digest.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),            # audit | remediation
    Column("state", String(16), nullable=False),           # running | complete | interrupted | incomplete
    Column("playbook_set", String(64), nullable=False),    # sha256 of the sorted playbook ids: "same playbooks"
    Column("playbooks", JSON, nullable=False),             # [{"id": ..., "digest": sha256 of the file}]
    Column("inventory_sources", JSON, nullable=False),
    Column("pattern", Text),
    Column("host_limit", Text),
    Column("options", JSON, nullable=False),
    Column("auditor_version", String(64), nullable=False),
    Column("result_schema", String(16), nullable=False),   # the RunResult schema_version of the stored hosts
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
    Column("hosts_planned", Integer, nullable=False),
    Column("planned_hosts", JSON, nullable=False),         # host names in plan order: resume and report order
    Column("owner_host", String(255), nullable=False),
    Column("owner_pid", Integer, nullable=False),
    Column("heartbeat", UTCDateTime, nullable=False),
    Index("ix_runs_started", "started"),
    Index("ix_runs_playbook_set", "playbook_set", "state", "started"),
)

host_results = Table(
    "host_results", metadata,
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime, nullable=False),
    Column("total_ms", Float, nullable=False),
    Column("verdict", String(64)),
    Column("confidence", String(8)),
    Column("check_digest", String(64)),                   # compare two runs' hosts without their checks
    Column("document", LargeBinary, nullable=False),       # zlib(JSON of the scrubbed, bounded HostResult)
    Column("cut", Text),                                   # what the bounds removed, for a reader
    Column("recorded", UTCDateTime, nullable=False),
    # counts per run (trend, serve) and drift read these without the rows' documents (migration 0003)
    Index("ix_host_results_summary", "run_id", "status", "verdict", "check_digest", "host"),
)

check_results = Table(
    "check_results", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("key", String(512), primary_key=True),          # "<playbook>/<play>/<check id>"
    Column("check_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("evidence_digest", String(64), nullable=False),
    Column("listing_digest", String(64)),                  # digest of evidence ``lines`` (a file listing)
    Column("listing", Text),                               # that listing: {"file": path, "lines": [text]}
    Column("duration_ms", Float, nullable=False),
    ForeignKeyConstraint(["run_id", "host"], ["host_results.run_id", "host_results.host"], ondelete="CASCADE"),
)
