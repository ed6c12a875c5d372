"""Remediation playbooks: schema and module errors with file:line:column; the shipped playbooks load; wire format."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import BadInputError
from auditor.remediate.loader import load_remediation_playbook
from auditor.remediate.wire import parse_step, ps_step, sh_step

ROOT = Path(__file__).resolve().parents[2]

HEAD = "- name: fix\n  hosts: windows\n  tasks:\n"


@pytest.mark.parametrize("tasks, where, message", [
    ("    - name: a\n      nosuchmodule: {x: 1}\n", ":5:7", "unknown module 'nosuchmodule'"),
    ("    - name: a\n      wslconfig: {path: 'C:\\\\x', key: networkingMode, state: commented, colour: red}\n",
     ":5:73", "module 'wslconfig' has no argument 'colour'"),
    ("    - name: a\n      wslconfig: {path: 'C:\\\\x', key: networkingMode, state: present}\n", ":5:18",
     "needs a non-empty value"),
    ("    - name: a\n      wsl_policy: {}\n", ":5:19", "give at least one of"),
    ("    - name: a\n      debug: hi\n      when: 'facts.x ==' \n", ":6:13", "invalid expression"),
    ("    - name: a\n      debug: hi\n      shell: ls\n", ":4:7", "exactly one module key"),
    ("    - name: a\n      debug: hi\n      register: facts\n", ":6:17", "not a usable variable name"),
    ("    - name: a\n      wsl_policy: nat\n", ":5:19", "needs a mapping of arguments"),
    ("    - name: a\n      debug: hi\n      loop: 'facts.x | nosuchfilter'\n", ":6:13", "No filter named 'nosuchfilter'"),
])
def test_errors_name_file_line_and_column(tmp_path, tasks, where, message):
    path = tmp_path / "bad.yml"
    path.write_text(HEAD + tasks)
    with pytest.raises(BadInputError) as err:
        load_remediation_playbook(path)
    text = str(err.value)
    assert text.startswith(f"{path}{where}: "), text
    assert message in text
    assert "\n" not in text


def test_free_form_and_templated_args_are_accepted(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text(HEAD + "    - name: a\n      shell: echo hi\n    - name: b\n      wslconfig:\n"
                    "        path: '{{ item.path }}'\n        key: networkingMode\n        state: commented\n"
                    "      loop: facts.profiles\n      register: r\n")
    book = load_remediation_playbook(path)
    shell, wsl = book.plays[0].tasks
    assert shell.module == "shell" and shell.args == {"cmd": "echo hi"}
    assert wsl.loop == "facts.profiles" and wsl.register_as == "r"


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "playbooks").glob("remediate-*.yml")))
def test_shipped_playbooks_load(name):
    book = load_remediation_playbook(ROOT / "playbooks" / name)
    assert book.plays and all(p.tasks for p in book.plays)


def test_shipped_playbooks_cover_the_issue():
    names = {p.name for p in (ROOT / "playbooks").glob("remediate-*.yml")}
    assert {"remediate-revert-nat.yml", "remediate-ignored-ports.yml", "remediate-mirrored-recommended.yml",
            "remediate-force-nat-policy.yml", "remediate-edge-docker-engine.yml"} <= names


@pytest.mark.parametrize("build", [ps_step, sh_step])
def test_step_header_round_trips_awkward_arguments(build):
    args = {"path": "C:\\Users\\o'neil\\.wslconfig", "cmd": "echo 'a' \"b\" $x; `y`", "n": [1, 2]}
    step = parse_step(build("wslconfig.read", args, "real script body\nline 2"))
    assert step is not None and step.name == "wslconfig.read" and step.version == 1
    assert step.args == args and step.body == "real script body\nline 2\n"


def test_ps_step_is_real_powershell_quoting():
    script = ps_step("x.y", {"a": "it's"}, "Write-Output $A.a")
    assert script.splitlines()[1] == "$A = ConvertFrom-Json '{\"a\":\"it''s\"}'"


@pytest.mark.parametrize("script", ["", "hello", "# auditor-module: x v1\n$B = 1\n", "# auditor-module: x v1\n$A = ConvertFrom-Json '[1]'\n"])
def test_parse_step_rejects_other_scripts(script):
    assert parse_step(script) is None
