"""command / shell with creates / removes, when, loop, register, changed_when, failed_when, ignore_errors:
run for real through the `local` transport (real sh), in check mode and for real."""

from __future__ import annotations

from pathlib import Path

from auditor.remediate.cli import execute_remediation
from auditor.results import TaskStatus
from auditor.runner import RunOptions

PLAYBOOK = """\
- name: commands
  hosts: here
  tasks:
    - name: create a marker
      shell: "echo made > {d}/marker"
    - name: create it again (creates)
      command:
        cmd: "touch {d}/marker"
        creates: "{d}/marker"
    - name: remove only what exists (removes)
      command:
        cmd: "rm {d}/nothing"
        removes: "{d}/nothing"
    - name: read it
      command: "cat {d}/marker"
      register: marker
      changed_when: "false"
    - name: use the registered output
      debug: "marker says {{{{ marker.stdout_lines[0] }}}}"
      when: "marker.rc == 0"
    - name: a loop with a failing item, tolerated
      shell: "test {{{{ item }}}} -lt 3"
      loop: [1, 2, 5]
      failed_when: "result.rc != 0 and item != 5"
      register: loop_out
    - name: a real failure, ignored
      shell: "exit 7"
      ignore_errors: true
    - name: a real failure stops the host
      shell: "echo boom >&2; exit 3"
    - name: never runs
      shell: "touch {d}/never"
"""


def run(tmp_path: Path, check: bool):
    book = tmp_path / "cmd.yml"
    book.write_text(PLAYBOOK.format(d=tmp_path))
    inv = tmp_path / "inv.ini"
    inv.write_text("here ansible_connection=local\n")
    result = execute_remediation([str(book)], [str(inv)], limit=None, options=RunOptions(), check_mode=check)
    (host,) = result.hosts
    return host, host.all_tasks()


def test_check_mode_runs_no_command(tmp_path):
    host, tasks = run(tmp_path, check=True)
    assert not (tmp_path / "marker").exists()
    assert [t.status for t in tasks[:3]] == [TaskStatus.skipped, TaskStatus.skipped, TaskStatus.ok]
    assert "does not exist (removes)" in tasks[2].message


def test_real_run(tmp_path):
    host, tasks = run(tmp_path, check=False)
    by_name = {}
    for t in tasks:
        by_name.setdefault(t.name, []).append(t)
    assert (tmp_path / "marker").read_text() == "made\n"
    assert by_name["create a marker"][0].status is TaskStatus.changed
    assert by_name["create it again (creates)"][0].status is TaskStatus.ok
    assert by_name["remove only what exists (removes)"][0].status is TaskStatus.ok
    assert by_name["read it"][0].status is TaskStatus.ok  # changed_when: false
    assert by_name["use the registered output"][0].message == "marker says made"
    assert [(t.loop_item, t.status) for t in by_name["a loop with a failing item, tolerated"]] == [
        ("1", TaskStatus.changed), ("2", TaskStatus.changed), ("5", TaskStatus.changed)]
    assert by_name["a real failure, ignored"][0].status is TaskStatus.failed
    stop = by_name["a real failure stops the host"][0]
    assert stop.status is TaskStatus.failed and stop.message == "rc=3: boom"
    assert by_name["never runs"][0].status is TaskStatus.skipped and not (tmp_path / "never").exists()
    assert host.status.value == "failed"
