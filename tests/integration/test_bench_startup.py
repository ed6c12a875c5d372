"""bench/startup.py runs each of its steps in a fresh interpreter; a module it names that does not exist fails it."""

from __future__ import annotations

import json
import subprocess

import pytest

from bench import startup


def test_every_step_runs_and_is_reported(capsys):
    assert startup.main(["--repeat", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["step"] for r in rows] == [label for label, _ in startup.STEPS]
    assert all(r["wall_s"] > 0 and r["cpu_s"] >= 0 for r in rows)


def test_a_missing_module_is_an_error_not_a_figure(monkeypatch):
    monkeypatch.setattr(startup, "STEPS", [("nothing", [startup.PYTHON, "-c", "import auditor.no_such_module"])])
    with pytest.raises(subprocess.CalledProcessError):
        startup.measure(1)
