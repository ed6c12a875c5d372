"""The benchmark's pure parts: ratios, target verdicts, the markdown table, ansible's playbooks and the
checks that ansible got real answers."""

from __future__ import annotations

import yaml

from bench import run, table
from bench.ansible_side import check_outputs, edge_commands, expected_marker, parse_recap, playbook_text, tasks_of


def test_ratio_and_per_host():
    assert table.ratio(100.0, 4.0) == 25.0
    assert table.ratio(None, 4.0) is None and table.ratio(10.0, 0.0) is None
    assert table.per_host_ms(2.0, 1000) == 2.0
    assert table.per_host_ms(None, 10) is None and table.per_host_ms(1.0, 0) is None


def test_markdown_table_aligns_numbers_and_shows_missing_values():
    md = table.markdown_table(["hosts", "wall s", "note"], [[1000, 12.3456, "ok"], [5000, None, "x"]])
    lines = md.splitlines()
    assert lines[0] == "| hosts | wall s | note |"
    assert lines[1] == "|---:|---:|---|"
    assert lines[2] == "| 1,000 | 12.35 | ok |"
    assert lines[3] == "| 5,000 | – | x |"


def _results(auditor: float, idiomatic: float, handtuned: float, cpu: float, floor_cpu: float, lost: int = 0,
             pss: float | None = 210.0, valid: bool = True):
    audit = {"hosts": 100, "wall_s": auditor, "cpu_s": cpu, "pss_peak_mb": pss, "lost": lost,
             "floor": {"cpu_s": floor_cpu, "wall_s": 0.5}}
    return {"audits": [audit],
            "ansible": [{"hosts": 100, "forks": 50, "auditor": audit, "idiomatic": {"wall_s": idiomatic, "valid": valid},
                         "handtuned": {"wall_s": handtuned, "valid": valid}}]}


def test_targets_met_and_missed():
    met = {row[0]: row[2] for row in table.targets(_results(1.0, 60.0, 6.0, 1.0, 0.8))}
    assert all(met.values()), met
    missed = {row[0]: row[2] for row in table.targets(_results(2.0, 60.0, 6.0, 1.3, 0.8, lost=1, pss=251.0))}
    assert missed[">= 50x idiomatic ansible at 100 hosts (forks 50)"] is False    # 30x
    assert missed[">= 5x hand-tuned ansible at 100 hosts (forks 50)"] is False    # 3x
    assert missed["CPU per host <= 1.5x the transport floor at 100 hosts"] is False  # 1.6x
    assert missed["peak PSS sum <= 250 MB at 100 hosts"] is False
    assert missed["100 hosts: every host in the report"] is False


def test_an_ansible_run_with_error_answers_is_no_figure():
    rows = {row[0]: row[1:] for row in table.targets(_results(1.0, 60.0, 6.0, 1.0, 0.8, valid=False))}
    assert rows[">= 50x idiomatic ansible at 100 hosts (forks 50)"] == ["–", None]
    md = table.render(_results(1.0, 60.0, 6.0, 1.0, 0.8, valid=False))
    assert "INVALID" in md


def test_best_of_a_sweep_ignores_invalid_runs():
    runs = [{"forks": 25, "wall_s": 3.0, "valid": True}, {"forks": 50, "wall_s": 1.0, "valid": False},
            {"forks": 100, "wall_s": 2.0, "valid": True}]
    assert table.best(runs) == runs[2]
    assert table.best([{"forks": 50, "wall_s": 1.0, "problems": ["lost 3"]}]) is None


RECAP = """PLAY RECAP *********
edge-0001                  : ok=13   changed=0    unreachable=0    failed=0    skipped=0
win-dev-0001               : ok=1    changed=0    unreachable=0    failed=0    skipped=0
win-dev-0002               : ok=0    changed=0    unreachable=1    failed=0    skipped=0
"""


def test_parse_recap_per_host():
    assert parse_recap(RECAP) == {"edge-0001": (13, 0, 0), "win-dev-0001": (1, 0, 0), "win-dev-0002": (0, 1, 0)}


def _log(win_stdout: str, edge_stderr: str = "") -> str:
    """An idiomatic run's -v log: each Windows one-liner answered with its marker (``win_stdout`` for the first),
    each edge command with what a lab host answers."""
    lines = []
    for i, (name, _) in enumerate(tasks_of("idiomatic")["windows"]):
        marker = expected_marker(name, "") or "x"
        out = win_stdout if i == 0 else marker.replace('"', '\\"')
        lines += [f"TASK [{name}] ****",
                  'ok: [win-dev-0001] => {"changed": false, "rc": 0, "stdout": ' + f'"{out}", "stderr": ""' + "}"]
    for i, cmd in enumerate(edge_commands()):
        out = {"uname -r": "6.1.0\\n", "cat /etc/os-release": "ID=debian\\n", "ip -j addr show": '[{\\"ifname\\": \\"lo\\"}]',
               "ip -j route show": "[]"}.get(cmd, "x")
        lines += [f"TASK [edge {i + 1}] ****",
                  f'ok: [edge-0001] => {{"rc": 0, "stdout": "{out}", "stderr": "{edge_stderr if i == 2 else ""}"}}']
    windows_tasks = len(tasks_of("idiomatic")["windows"])
    return "\n".join(lines) + "\n" + RECAP.replace("ok=0    changed=0    unreachable=1", "ok=1    changed=0    unreachable=0") \
        .replace("win-dev-0001               : ok=1 ", f"win-dev-0001               : ok={windows_tasks} ")


GOOD = '{\\"CurrentBuild\\":\\"26100\\"}'  # the first Windows task's answer (os version), as -v prints it
GROUPS = {"windows": ["win-dev-0001"], "edge": ["edge-0001"]}


def test_outputs_with_real_answers_pass():
    good = _log(GOOD)
    assert check_outputs(good, "idiomatic", GROUPS) == []


def test_outputs_where_the_lab_answered_errors_fail():
    not_known = _log("if : The term 'if' is not recognized as the name of a cmdlet")
    problems = check_outputs(not_known, "idiomatic", GROUPS)
    assert any("did not know task 'windows os version'" in p for p in problems)
    no_marker = _log("")  # an empty answer where every lab host prints its build
    assert any("task 'windows os version' output lacks" in p for p in check_outputs(no_marker, "idiomatic", GROUPS))
    edge_unknown = _log(GOOD, edge_stderr="sh: 1: frobnicate: not found")
    assert any("did not know task 'edge 3'" in p for p in check_outputs(edge_unknown, "idiomatic", GROUPS))
    # a host with no docker answers `docker: not found`: a real answer, not an unknown command
    no_docker = _log(GOOD, edge_stderr="sh: 1: docker: not found")
    assert check_outputs(no_docker, "idiomatic", GROUPS) == []


def test_unreachable_or_missing_hosts_fail_the_check():
    log = _log(GOOD)
    problems = check_outputs(log, "idiomatic", {"windows": ["win-dev-0001", "win-dev-0002", "win-dev-0003"], "edge": []})
    assert any(p.startswith("win-dev-0003: recap ok=-1") for p in problems)


def test_playbooks_send_the_shipped_commands_untemplated():
    cmds = edge_commands()
    assert "uname -r" in cmds and len(cmds) >= 10
    idiomatic = yaml.safe_load(playbook_text("idiomatic").replace("!unsafe", ""))
    edge = next(p for p in idiomatic if p["hosts"] == "edge")
    assert [edge["vars"][t["raw"][3:-3].strip()] .rstrip("\n") for t in edge["tasks"]] == [c.rstrip("\n") for c in cmds]
    assert "!unsafe" in playbook_text("handtuned")   # Go templates like {{json .}} must reach the host as written
    hand = tasks_of("handtuned")
    assert all(len(t) == 1 for t in hand.values())
    assert all(c in hand["edge"][0][1] for c in cmds)
    assert all(p["gather_facts"] is False for p in idiomatic)


def test_harness_refuses_to_run_without_sshpass_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no ssh, no sshpass
    assert run.main(["--sizes", "10", "--ansible-sizes", "10", "--out", str(tmp_path)]) == 2
    assert "sshpass" in capsys.readouterr().err


def test_the_report_shows_what_start_up_costs_when_measured():
    from bench.table import render

    base = {"machine": {}, "audits": [], "ansible": []}
    assert "Before the first host" not in render(base)
    rows = [{"step": "python -c pass", "wall_s": 0.022, "cpu_s": 0.02, "wall_median_s": 0.023},
            {"step": "the libraries auditor run imports", "wall_s": 0.475, "cpu_s": 0.47, "wall_median_s": 0.49}]
    md = render({**base, "startup": rows})
    assert "## Before the first host" in md and "| the libraries auditor run imports | 0.475 | 0.470 |" in md


def test_the_report_shows_where_a_hosts_cpu_goes_when_measured():
    from bench.table import render

    base = {"machine": {}, "audits": [], "ansible": []}
    assert "Where a host's CPU goes" not in render(base)
    doc = {"hosts": 1000, "statuses": {"ok": 1000}, "floor_ms_per_host": 1.4,
           "rungs": [{"stage": "transports", "part": False, "cpu_s": 1.5, "ms_per_host": 1.5, "note": ""}],
           "stages": [{"stage": "worker", "part": False, "cpu_s": 0.7, "ms_per_host": 0.7, "note": ""},
                      {"stage": "of which gather", "part": True, "cpu_s": 0.3, "ms_per_host": 0.3, "note": ""},
                      {"stage": "reports", "part": False, "cpu_s": 0.3, "ms_per_host": 0.3, "note": ""}]}
    md = render({**base, "stages": doc})
    assert "## Where a host's CPU goes (`bench/stages.py` at 1,000 hosts, best of three)" in md
    assert "| transports | 1.500 | 0.100 |" in md and "|   of which gather | 0.300 |" in md
    assert "| **auditor's own work, the stages above summed** | **1.000** |" in md
