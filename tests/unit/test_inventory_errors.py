"""Malformed inventories: one-line BadInputError naming file:line and what was expected."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from auditor.errors import BadInputError, ExitCode
from auditor.inventory import load_inventory

# (file name, content, executable, expected line or None, words the message must contain)
CASES = [
    ("a.ini", "[web]\nh1\n[web:vars]\nnot a var line\n", False, 4, "expected key=value"),
    ("b.ini", "[web:foo]\nh1\n", False, 1, "unknown type"),
    ("c.ini", "[web]\nh[1:x]\n", False, 2, "host range"),
    ("c2.ini", "[web]\nh[01:3]\n", False, 2, "equal-length"),
    ("c3.ini", "[web]\nh[1:3:0]\n", False, 2, "step"),
    ("d.ini", "[g:children]\nmissing\n", False, 2, "undefined group 'missing'"),
    ("e.ini", "\n\n[orphan:vars]\nx=1\n", False, 3, "never defined"),
    ("f.ini", "[web]\nh1 a=\"unterminated\n", False, 2, "quoting"),
    ("k.ini", "[web]\nh1 noequals\n", False, 2, "expected key=value"),
    ("l.ini", "[web ]\nh1\n", False, 1, "no spaces"),
    ("m.ini", "[web]\nhost:\n", False, 2, "port"),
    ("loop.ini", "[a:children]\nb\n[b:children]\na\n", False, 4, "recursive"),
    ("g.yml", "all:\n  hosts:\n    - h1\n", False, 2, "must be a mapping"),
    ("h.yml", "all:\n  hosts: [h1\n", False, 3, "invalid YAML"),
    ("i.yml", "all:\n  children:\n    a:\n      children:\n        b:\n    b:\n      children:\n        a:\n",
     False, 8, "recursive"),
    ("j.yml", "plugin: aws_ec2\n", False, 1, "plugin"),
    ("n.yml", "all:\n  hosts:\n    42:\n", False, 3, "must be a string"),
    ("hv.yml", "all:\n  hosts:\n    h1: [1, 2]\n", False, 3, "must be a mapping"),
    ("o.toml", "x = 1\n", False, None, "TOML"),
    ("p.sh", "#!/bin/sh\necho notjson\n", True, None, "not valid JSON"),
    ("q.sh", "#!/bin/sh\necho boom >&2\nexit 3\n", True, None, "exited with code 3"),
    ("t.sh", "#!/bin/sh\necho '{\"g\": {\"hosts\": \"notalist\"}}'\n", True, None, "must be a list"),
]


@pytest.mark.parametrize("name,content,executable,line,words", CASES, ids=[c[0] for c in CASES])
def test_malformed_inventory_names_file_and_line(tmp_path, name, content, executable, line, words):
    path = tmp_path / name
    path.write_text(content)
    if executable:
        path.chmod(0o755)
    with pytest.raises(BadInputError) as info:
        load_inventory([str(path)])
    err = info.value
    assert err.location is not None and err.location.file == str(path)
    assert err.location.line == line
    assert words in err.message
    assert "\n" not in str(err)


@pytest.mark.parametrize("kind,name,hosts,content,line", [
    ("group_vars", "g.yml", "[g]\nh\n", "- a\n- b\n", 1),   # not a mapping
    ("host_vars", "h.yml", "h\n", "ok: 1\nbad: [\n", 3),      # bad YAML
])
def test_bad_vars_files_name_their_own_file_and_line(tmp_path, kind, name, hosts, content, line):
    (tmp_path / kind).mkdir()
    (tmp_path / "hosts").write_text(hosts)
    (tmp_path / kind / name).write_text(content)
    with pytest.raises(BadInputError) as info:
        load_inventory([str(tmp_path / "hosts")])
    assert info.value.location.file.endswith(f"{kind}/{name}")
    assert info.value.location.line == line


def test_missing_source_and_missing_limit_file(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_inventory([str(tmp_path / "nope.ini")])
    from auditor.inventory import limit_hosts

    (tmp_path / "h.ini").write_text("a\n")
    inv = load_inventory([str(tmp_path / "h.ini")])
    with pytest.raises(BadInputError, match="limit file not found"):
        limit_hosts(inv, list(inv.hosts.values()), f"@{tmp_path / 'missing.retry'}")


def test_cli_prints_one_line_and_exit_code_4_without_traceback(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[web]\nh1\n[web:oops]\n")
    proc = subprocess.run([sys.executable, "-m", "auditor", "inventory", "-i", str(bad), "--list"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.BAD_INPUT
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:3:" in lines[0]
    assert "Traceback" not in proc.stderr


def test_ask_vault_pass_without_a_terminal_fails_at_once(tmp_path):
    inv = tmp_path / "h.ini"
    inv.write_text("a\n")
    proc = subprocess.run([sys.executable, "-m", "auditor", "inventory", "-i", str(inv), "--list", "--ask-vault-pass"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == ExitCode.USAGE
    assert "not a TTY" in proc.stderr and "--vault-password-file" in proc.stderr


def test_unknown_action_combination_is_a_usage_error(tmp_path):
    inv = tmp_path / "h.ini"
    inv.write_text("a\n")
    from auditor.cli import main

    assert main(["inventory", "-i", str(inv), "--list", "--graph"]) == ExitCode.USAGE
    assert main(["inventory", "-i", str(inv), "--graph", "nosuchgroup"]) == ExitCode.USAGE
    assert main(["inventory", "-i", str(inv), "--host", "nosuchhost"]) == ExitCode.BAD_INPUT


def test_corpus_data_file_is_untouched_by_a_failed_yaml_attempt(tmp_path):
    """A .yml file that is not YAML-shaped falls back to INI, as in ansible, with nothing half-added."""
    path = tmp_path / "hosts.yml"
    path.write_text("h1\nh2 x=1\n")
    inv = load_inventory([str(path)])
    assert list(inv.hosts) == ["h1", "h2"]
    assert inv.hosts["h2"].vars == {"x": 1}


@pytest.fixture(autouse=True)
def _no_stdin_prompt(monkeypatch):
    # the suite never prompts: anything that tries would hang a CI run
    monkeypatch.setattr("getpass.getpass", lambda *a, **k: pytest.fail("prompted for a password"))
