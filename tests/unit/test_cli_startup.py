"""What `auditor run` imports before its work: only the area of the command named (not the web server, Celery,
APScheduler or the history commands), and no Alembic for a store already at the newest revision. Each check runs
a fresh interpreter, as a user's command does, and reads its ``sys.modules``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from auditor import cli
from auditor.store.engine import make_engine
from auditor.store.migrate import HEAD, current_revision, stored_revision
from auditor.store.store import open_store
from auditor.store.urls import parse_store_url

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / "playbooks" / "mirrored-mode.yml")
NOT_FOR_RUN = ["fastapi", "starlette", "uvicorn", "celery", "kombu", "apscheduler", "alembic", "mako",
               "auditor.serve", "auditor.distributed.coordinator", "auditor.history.cli", "auditor.lab.cli",
               "auditor.remediate.cli", "auditor.doctor.cli"]


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after ``code`` (run from the repository root)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_run_command_line_imports_no_other_area():
    # --syntax-check goes through the whole `run` command up to the inventory: the imports of every run
    modules = _modules_after("from auditor.cli import main\n"
                             f"assert main(['run', {PLAYBOOK!r}, '-i', 'unused', '--syntax-check']) == 0")
    assert "auditor.commands.run" in modules
    assert sorted(m for m in modules for banned in NOT_FOR_RUN if m == banned or m.startswith(banned + ".")) == []


def test_help_still_lists_every_area():
    out = subprocess.run([sys.executable, "-m", "auditor", "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    for commands in cli.AREA_COMMANDS.values():
        for name in commands:
            assert name in out


@pytest.mark.parametrize("module", sorted(cli.AREA_COMMANDS))
def test_area_commands_are_what_each_area_registers(module):
    app = typer.Typer()
    importlib.import_module(module).register(app)
    names = {c.name for c in app.registered_commands} | {g.name or g.typer_instance.info.name
                                                        for g in app.registered_groups}
    assert names == set(cli.AREA_COMMANDS[module])


@pytest.mark.parametrize("argv, areas", [
    (["run", "pb.yml"], ["auditor.commands.run"]),
    (["diff", "a", "b"], ["auditor.history.cli"]),
    (["schedule", "export"], ["auditor.serve.cli"]),
    ([], None),
    (["--help"], None),
    (["--version", "run"], []),
    (["-h", "run"], None),
    (["nosuch"], None),
])
def test_areas_for_a_command_line(argv, areas):
    assert cli.areas_for(argv) == areas


def test_an_up_to_date_store_opens_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'history.db'}"
    open_store(url).close()  # created and migrated here (Alembic)
    modules = _modules_after(f"from auditor.store.store import open_store\nopen_store({url!r}).close()")
    assert "sqlalchemy" in modules and "alembic" not in modules


def test_stored_revision_reads_what_alembic_reads(tmp_path):
    engine = make_engine(parse_store_url(f"sqlite:///{tmp_path / 'history.db'}"))
    try:
        with engine.connect() as conn:
            assert stored_revision(conn) is None and current_revision(conn) is None  # a new, empty store
        open_store(str(engine.url)).close()
        with engine.connect() as conn:
            assert stored_revision(conn) == current_revision(conn) == HEAD
    finally:
        engine.dispose()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_the_command_line_of_a_process_ends_it_after_flushing_and_atexit():
    out = _python("import atexit, sys\nfrom auditor.cli import main\n"
                  "atexit.register(lambda: print('atexit ran'))\n"
                  "sys.argv = ['auditor', 'run']\n"
                  "print('buffered', end='')\n"
                  "main()\nprint('after main')\n")
    assert out.returncode == 5  # the usage error's code, from the process itself
    assert out.stdout == "bufferedatexit ran\n"
    assert "give at least one PLAYBOOK" in out.stderr


def test_a_running_thread_lets_python_end_the_process():
    out = _python("import sys, threading\nfrom auditor.cli import main\n"
                  "done = threading.Event()\nthreading.Thread(target=done.wait).start()\n"
                  "sys.argv = ['auditor', '--version']\n"
                  "main()\nprint('after main')\ndone.set()\n")
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "after main"


def test_main_with_arguments_returns():
    assert cli.main(["--version"]) == 0


def test_a_profiled_command_line_still_writes_its_profile(tmp_path):
    out = tmp_path / "out.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "auditor", "--version"], cwd=ROOT,
                   capture_output=True, check=True)
    assert out.stat().st_size > 0
