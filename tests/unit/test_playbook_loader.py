"""The playbook loader: valid playbooks load; every kind of mistake is one BadInputError at file:line:col."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from auditor.errors import BadInputError, ExitCode
from auditor.playbook import load_playbook

GOOD = """\
- name: basic
  hosts: all
  vars: {expected: Linux}
  gather:
    linux:
      - {name: uname, command: "uname -s", parser: text}
  checks:
    - id: K-1
      title: Linux kernel
      severity: info
      that: facts.uname == vars.expected
      success_msg: "kernel {{ facts.uname }}"
"""


def write(tmp_path: Path, text: str, name: str = "pb.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_playbook_loads(tmp_path):
    book = load_playbook(write(tmp_path, GOOD))
    play = book.plays[0]
    assert play.name == "basic"
    assert play.gather["linux"][0].parser == "text"
    assert play.checks[0].that == ["facts.uname == vars.expected"]  # a single string becomes a list


@pytest.mark.parametrize(
    "bad, line, needle",
    [
        (GOOD.replace("severity: info", "severity: hgh"), 10, "'severity'"),
        (GOOD.replace("      title: Linux kernel\n", "      title: Linux kernel\n      colour: red\n"), 10, "unknown key 'colour'"),
        (GOOD.replace("      title: Linux kernel\n", ""), 8, "missing required key 'title'"),
        (GOOD.replace("parser: text", "parser: nosuch"), 6, "unknown parser 'nosuch'"),
        (GOOD.replace("facts.uname == vars.expected", "facts.uname ==="), 11, "invalid expression"),
        (GOOD.replace('"kernel {{ facts.uname }}"', '"kernel {{ facts.uname "'), 12, "invalid template"),
        (GOOD.replace("    linux:", "    solaris:"), 5, "'solaris' is not a known platform"),
        (GOOD.replace("  hosts: all\n", "  hosts: all\n  hosts: web\n"), 3, "duplicate key 'hosts'"),
        (GOOD + "  - bad: [unclosed\n", 13, "invalid YAML"),
        ("name: not a list\n", 1, "expected a list of plays"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, bad, line, needle):
    path = write(tmp_path, bad)
    with pytest.raises(BadInputError) as info:
        load_playbook(path)
    err = info.value
    assert err.exit_code == ExitCode.BAD_INPUT
    assert err.location is not None and err.location.file == str(path)
    assert err.location.line == line, str(err)
    assert needle in str(err)
    assert "\n" not in str(err)


def test_missing_file_and_missing_script_file(tmp_path):
    with pytest.raises(BadInputError, match="playbook not found"):
        load_playbook(tmp_path / "nope.yml")
    text = GOOD.replace('{name: uname, command: "uname -s", parser: text}', "{name: s, script_file: gone.sh, parser: text}")
    with pytest.raises(BadInputError, match="script_file 'gone.sh' not found") as info:
        load_playbook(write(tmp_path, text))
    assert info.value.location.line == 6


def test_script_file_is_inlined_relative_to_playbook(tmp_path):
    (tmp_path / "c.sh").write_text("echo hi\n")
    text = GOOD.replace('{name: uname, command: "uname -s", parser: text}', "{name: s, script_file: c.sh, parser: text}")
    book = load_playbook(write(tmp_path, text))
    assert book.plays[0].gather["linux"][0].body == "echo hi\n"


def test_collector_needs_exactly_one_source(tmp_path):
    text = GOOD.replace('{name: uname, command: "uname -s", parser: text}', '{name: u, command: a, script: b, parser: text}')
    with pytest.raises(BadInputError, match="exactly one of command, script or script_file"):
        load_playbook(write(tmp_path, text))


def test_not_utf8(tmp_path):
    path = tmp_path / "pb.yml"
    path.write_bytes(b"- name: \xff\n")
    with pytest.raises(BadInputError, match="expected UTF-8"):
        load_playbook(path)
