"""Schema migrations: a store made at the first revision, with runs in it, is upgraded in place with its
data intact; the migrated schema is exactly the one the code queries; unknown and broken stores are refused."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, inspect, select, text

from auditor.errors import ExitCode
from auditor.history.diff import diff_runs
from auditor.results import utcnow
from auditor.store import StoreError, open_store
from auditor.store.engine import make_engine, write_transaction
from auditor.store.migrate import HEAD, alembic_config, current_revision, upgrade
from auditor.store.rows import host_rows
from auditor.store.schema import check_results, host_results, metadata, runs
from auditor.store.store import playbook_set_key
from auditor.store.urls import parse_store_url
from tests.report_factory import make_run
from tests.store_fixtures import pg_database, pg_url, sqlite_url, store_url  # noqa: F401  (pytest fixtures)


def test_head_constant_is_the_newest_migration():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def _fill_at_first_revision(url: str) -> list:
    """A store at revision 0001 holding two runs, written with that revision's columns only."""
    engine = make_engine(parse_store_url(url))
    upgrade(engine, "0001")
    first_runs = [make_run(12, hostile=True, run_id="old-a"), make_run(12, hostile=True, run_id="old-b")]
    with engine.begin() as conn:
        assert current_revision(conn) == "0001"
        assert "check_digest" not in {c["name"] for c in inspect(conn).get_columns("host_results")}
        for run in first_runs:
            conn.execute(insert(runs), {
                "id": run.run_id, "kind": run.kind, "state": "complete", "playbook_set": playbook_set_key([p.path for p in run.playbooks]),
                "playbooks": [{"id": p.path, "digest": ""} for p in run.playbooks], "inventory_sources": run.inventory_sources,
                "pattern": None, "host_limit": None, "options": {"forks": 50}, "auditor_version": run.auditor_version,
                "result_schema": run.schema_version, "started": run.started, "finished": run.finished,
                "hosts_planned": len(run.hosts), "planned_hosts": [h.name for h in run.hosts], "owner_host": "old-box",
                "owner_pid": 1, "heartbeat": utcnow()})
            for host in run.hosts:
                rows = host_rows(run.run_id, host, utcnow())
                old_columns = {k: v for k, v in rows.host.items() if k != "check_digest"}  # 0001 has no digest
                conn.execute(insert(host_results), old_columns)
                if rows.checks:
                    conn.execute(insert(check_results), rows.checks)
    engine.dispose()
    return first_runs


def test_a_first_revision_store_with_data_is_upgraded_in_place(store_url):  # noqa: F811
    first_runs = _fill_at_first_revision(store_url)
    with open_store(store_url) as store:  # opening migrates
        with store.engine.connect() as conn:
            assert current_revision(conn) == HEAD
            digests = dict(conn.execute(select(host_results.c.host, host_results.c.check_digest)
                                        .where(host_results.c.run_id == "old-a")).all())
            assert "ix_runs_playbook_set" in {i["name"] for i in inspect(conn).get_indexes("runs")}
        for run in first_runs:
            loaded = store.load_run(run.run_id)
            assert [h.name for h in loaded.hosts] == [h.name for h in run.hosts]
            assert loaded.summary.by_status == run.compute_summary().by_status
        # the backfilled digests are the ones a host recorded today gets: diff's fast path works on old rows
        expected = {h.name: host_rows("old-a", h, utcnow()).host["check_digest"] for h in first_runs[0].hosts}
        assert digests == expected
        # and old and new runs compare
        counts = diff_runs(store, "old-a", "old-b").counts
        assert counts["unchanged"] + counts["unreachable"] == 12 == sum(counts.values())  # the same scan twice


def test_migrated_schema_matches_the_tables_the_code_uses(store_url):  # noqa: F811
    with open_store(store_url) as store, store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []


def test_downgrade_and_upgrade_again_keep_the_data(store_url):  # noqa: F811
    with open_store(store_url) as store:
        store.import_run(make_run(6, hostile=False, run_id="kept"))
    engine = make_engine(parse_store_url(store_url))
    with write_transaction(engine) as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        assert current_revision(conn) == "0001"
        assert conn.execute(select(func.count()).select_from(runs)).scalar() == 1
    engine.dispose()
    with open_store(store_url) as store:
        assert len(store.load_run("kept").hosts) == 6


def test_a_store_from_a_newer_auditor_is_refused(sqlite_url):  # noqa: F811
    with open_store(sqlite_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="revision '9999' is newer than this auditor knows") as exc:
        open_store(sqlite_url)
    assert exc.value.exit_code == ExitCode.BAD_INPUT


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not SQLite\n" * 100)
    with pytest.raises(StoreError, match="cannot open the store: file is not a database") as exc:
        open_store(f"sqlite:///{path}")
    assert str(exc.value).startswith(f"sqlite:///{path}:")


def test_an_unreachable_server_is_one_line_naming_the_url_without_password():
    with pytest.raises(StoreError) as exc:
        open_store("postgresql://auditor:pw-never-shown@127.0.0.1:9/nowhere?connect_timeout=2")
    message = str(exc.value)
    assert "pw-never-shown" not in message and "127.0.0.1:9" in message and "\n" not in message


def test_a_new_sqlite_store_is_private_to_its_user(tmp_path):
    path = tmp_path / "data" / "auditor" / "history.db"
    with open_store(f"sqlite:///{path}"):
        pass
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    with open_store(f"sqlite:///{path}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30000
