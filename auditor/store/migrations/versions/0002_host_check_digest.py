"""Drift without reading every check: a per-host digest of its check statuses, and an index for "same playbooks".

``host_results.check_digest`` lets ``auditor diff`` compare two runs host by host and read check rows
only for hosts whose digests differ; rows stored before this revision get theirs computed from their
check rows here. ``ix_runs_playbook_set`` finds the previous complete run of the same playbooks.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from auditor.store.rows import host_check_digest

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("host_results", sa.Column("check_digest", sa.String(64), nullable=True))
    op.create_index("ix_runs_playbook_set", "runs", ["playbook_set", "state", "started"])
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    hosts = sa.table("host_results", sa.column("run_id"), sa.column("host"), sa.column("status"),
                     sa.column("verdict"), sa.column("check_digest"))
    checks = sa.table("check_results", sa.column("run_id"), sa.column("host"), sa.column("key"),
                      sa.column("status"), sa.column("listing_digest"))
    for run_id in conn.execute(sa.select(hosts.c.run_id).distinct()).scalars().all():
        by_host: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
        for row in conn.execute(sa.select(checks.c.host, checks.c.key, checks.c.status, checks.c.listing_digest)
                                .where(checks.c.run_id == run_id)):
            by_host[row.host].append((row.key, row.status, row.listing_digest))
        updates = [
            {"r": run_id, "h": row.host,
             "d": host_check_digest(row.status, row.verdict, by_host.get(row.host, []))}
            for row in conn.execute(sa.select(hosts.c.host, hosts.c.status, hosts.c.verdict)
                                    .where(hosts.c.run_id == run_id))
        ]
        stmt = (hosts.update().where(hosts.c.run_id == sa.bindparam("r"), hosts.c.host == sa.bindparam("h"))
                .values(check_digest=sa.bindparam("d")))
        for i in range(0, len(updates), _BATCH):
            conn.execute(stmt, updates[i:i + _BATCH])


def downgrade() -> None:
    op.drop_index("ix_runs_playbook_set", table_name="runs")
    op.drop_column("host_results", "check_digest")  # native on PostgreSQL and SQLite >= 3.35
