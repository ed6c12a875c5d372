"""The benchmark's idiomatic ansible-core playbook against the lab's real WinRS server (pywinrm, NTLM): ansible
gets a real answer to every Windows one-liner it sends, as the harness checks it (bench/ansible_side.py)."""

from __future__ import annotations

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from bench.ansible_side import check_outputs, inventory_groups, run_ansible, tasks_of

LIB = {s.name: s for s in load_library()}


def test_idiomatic_windows_tasks_get_real_answers_from_the_lab(tmp_path):
    scenarios = ["win-conflict-confirmed", "win-healthy-nat", "win-no-wsl", "win-trap-utf16-bom"]
    fleet = LabFleet(name_hosts([LIB[n] for n in scenarios]), ports="free")
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path / "lab.yml")
        result = run_ansible(inventory, "idiomatic", tmp_path / "ansible", forks=4)
    assert result["valid"], result["problem_examples"]
    assert result["rc"] == 0 and result["hosts"] == len(scenarios)
    assert result["tasks"].startswith("16 windows")
    log = (tmp_path / "ansible" / "idiomatic-forks4.log").read_text()
    for name, _ in tasks_of("idiomatic")["windows"]:
        assert f"TASK [{name}]" in log
    # the same log with one task's answers turned into Windows' error for an unknown command is not a valid run
    broken = log.replace('"stdout": "{\\"CurrentBuild\\"', '"stdout": "Get-ItemProperty : is not recognized as a cmdlet')
    assert broken != log
    assert any("did not know task 'windows os version'" in p
               for p in check_outputs(broken, "idiomatic", inventory_groups(inventory)))
