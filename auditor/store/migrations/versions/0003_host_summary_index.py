"""Counts and drift without reading host documents: a covering index over what they read of ``host_results``.

The trend of the last scans (verdicts and outcomes per run), the fleet counts of ``auditor serve`` and
drift's host-by-host comparison read each host's run, status, verdict, digest and name. Without an index
that holds them, SQLite reads every row's page, which holds the start of its document: with 20,000-host
runs in the store the trend of one ``auditor run`` read ~1 GB and took seconds (measured: 5 s of a
1,000-host run's 9 s of CPU).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_host_results_summary", "host_results", ["run_id", "status", "verdict", "check_digest", "host"])


def downgrade() -> None:
    op.drop_index("ix_host_results_summary", "host_results")
