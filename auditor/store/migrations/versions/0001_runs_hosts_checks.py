"""The first schema: runs, their hosts and each host's checks.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("playbook_set", sa.String(64), nullable=False),
        sa.Column("playbooks", sa.JSON, nullable=False),
        sa.Column("inventory_sources", sa.JSON, nullable=False),
        sa.Column("pattern", sa.Text),
        sa.Column("host_limit", sa.Text),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("auditor_version", sa.String(64), nullable=False),
        sa.Column("result_schema", sa.String(16), nullable=False),
        sa.Column("started", _TS, nullable=False),
        sa.Column("finished", _TS),
        sa.Column("hosts_planned", sa.Integer, nullable=False),
        sa.Column("planned_hosts", sa.JSON, nullable=False),
        sa.Column("owner_host", sa.String(255), nullable=False),
        sa.Column("owner_pid", sa.Integer, nullable=False),
        sa.Column("heartbeat", _TS, nullable=False),
    )
    op.create_index("ix_runs_started", "runs", ["started"])
    op.create_table(
        "host_results",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started", _TS, nullable=False),
        sa.Column("finished", _TS, nullable=False),
        sa.Column("total_ms", sa.Float, nullable=False),
        sa.Column("verdict", sa.String(64)),
        sa.Column("confidence", sa.String(8)),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("cut", sa.Text),
        sa.Column("recorded", _TS, nullable=False),
    )
    op.create_table(
        "check_results",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("check_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence_digest", sa.String(64), nullable=False),
        sa.Column("listing_digest", sa.String(64)),
        sa.Column("listing", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["run_id", "host"], ["host_results.run_id", "host_results.host"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("check_results")
    op.drop_table("host_results")
    op.drop_index("ix_runs_started", table_name="runs")
    op.drop_table("runs")
