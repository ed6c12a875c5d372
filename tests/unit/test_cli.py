"""The CLI maps every kind of mistake to its documented exit code with one line and no traceback."""

from __future__ import annotations

import pytest

from auditor.cli import main
from auditor.errors import ExitCode


@pytest.mark.parametrize(
    "argv, code, needle",
    [
        (["run"], ExitCode.USAGE, "give at least one PLAYBOOK"),
        (["run", "pb.yml", "-i", "x", "--forks", "0"], ExitCode.USAGE, "--forks"),
        (["nosuch"], ExitCode.USAGE, "No such command"),
        (["run", "tests/data/playbooks/linux-basics.yml", "-i", "x", "--report", "pdf"], ExitCode.USAGE, "unknown report format pdf"),
        (["run", "tests/data/playbooks/linux-basics.yml", "-i", "x", "--host-key-checking", "maybe"], ExitCode.USAGE, "accept-new"),
        (["run", "missing.yml", "-i", "x"], ExitCode.BAD_INPUT, "missing.yml: playbook not found"),
        (["run", "tests/data/playbooks/linux-basics.yml", "-i", "/nonexistent/inv.yml"], ExitCode.BAD_INPUT, "inventory source not found"),
        (["validate", "missing.yml"], ExitCode.BAD_INPUT, "playbook not found"),
    ],
)
def test_errors_are_one_line_with_the_documented_code(argv, code, needle, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_help_and_version(capsys):
    assert main(["--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "Exit codes" in out and "run" in out and "validate" in out
    assert main(["--version"]) == ExitCode.OK
    assert "auditor" in capsys.readouterr().out


def test_validate_ok_on_shipped_playbooks(capsys):
    assert main(["validate", "playbooks/mirrored-mode.yml", "playbooks/edge-nodes.yml"]) == ExitCode.OK
    assert capsys.readouterr().out.count(": ok (") == 2


def test_internal_errors_are_one_line(monkeypatch, capsys):
    import auditor.commands.run as run_module

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.delenv("AUDITOR_DEBUG", raising=False)
    monkeypatch.setattr(run_module, "parse_formats", boom)
    assert main(["run", "tests/data/playbooks/linux-basics.yml", "-i", "x"]) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "INTERNAL ERROR: RuntimeError: simulated bug" in err and "Traceback" not in err
