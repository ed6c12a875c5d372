"""bench/stages.py: records a real lab's answers over WinRS and SSH, replays them through auditor's own stages, and
refuses to give figures when the replay does not end as the live audit did."""

from __future__ import annotations

import json

import pytest

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from bench import stages

LIB = {s.name: s for s in load_library()}
SCENARIOS = ["win-conflict-confirmed", "win-healthy-nat", "win-trap-utf16-bom", "edge-docker-desktop-linux",
             "edge-ok-native"]


@pytest.fixture(scope="module")
def lab_inventory(tmp_path_factory):
    fleet = LabFleet(name_hosts([LIB[n] for n in SCENARIOS]), ports="free")
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path_factory.mktemp("stages") / "lab.yml")
        yield inventory


def test_every_stage_is_measured_on_the_labs_real_answers(lab_inventory, tmp_path, capsys):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"hosts": 5, "cpu_s": 0.01}))
    out = tmp_path / "stages.json"
    assert stages.main([str(lab_inventory), "--repeat", "1", "--floor", str(floor), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["hosts"] == len(SCENARIOS) and set(doc["statuses"]) <= {"ok", "failed"}
    assert sum(doc["statuses"].values()) == len(SCENARIOS)
    assert [r["stage"] for r in doc["rungs"]] == [
        "auditor's transports alone: connect, the audit's batch, close",
        "a worker's whole run over them: Runner, every host's result as JSON text"]
    names = [s["stage"] for s in doc["stages"]]
    assert names[0] == "worker: the whole host without a transport" and "reports: JSON and HTML from the store" in names
    assert all(s["cpu_s"] > 0 for s in doc["stages"] + doc["rungs"])
    assert doc["floor_ms_per_host"] == pytest.approx(2.0)
    printed = capsys.readouterr().out
    assert "| what the 1.5x target leaves for auditor's own work (half the floor) | 1.000 |" in printed
    assert "| the floor (bench.floor: connect, one command, close) | 2.000 | |" in printed


def test_a_replay_that_ends_otherwise_gives_no_figures(lab_inventory, monkeypatch):
    real = stages.replay_factory

    def garbled(recorded):  # every answer loses its section markers: hosts end as malformed errors
        for answers in recorded.answers.values():
            for result in answers:
                result.stdout = result.stdout.replace(stages.FIXED_NONCE.encode(), b"0" * len(stages.FIXED_NONCE))
        return real(recorded)

    monkeypatch.setattr(stages, "replay_factory", garbled)
    with pytest.raises(SystemExit, match="replayed hosts ended otherwise"):
        stages.measure(str(lab_inventory), 1, 4)


def test_the_table_sums_stages_not_their_parts_and_each_rung_adds_to_the_one_below():
    rows = [stages.Stage("a", 0.002, 2), stages.Stage("  of which b", 0.001, 2), stages.Stage("c", 0.004, 2)]
    rungs = [stages.Stage("transports", 0.010, 2), stages.Stage("worker", 0.016, 2)]
    text = stages.table(stages.Measured(rungs, rows, {"ok": 2}), floor_ms=4.0)
    assert "| **auditor's own work, the stages above summed** | **3.000** |" in text
    assert "| what the 1.5x target leaves for auditor's own work (half the floor) | 2.000 |" in text
    assert "| transports | 5.000 | 1.000 |" in text and "| worker | 8.000 | 3.000 |" in text


def test_unanswered_batches_give_no_figures(lab_inventory, monkeypatch):
    real = stages._transports_alone  # one host's answer without its END marker
    monkeypatch.setattr(stages, "_transports_alone", lambda plans, forks, enabled: real(plans, forks, enabled) - 1)
    with pytest.raises(SystemExit, match="1 of 5 batches were not answered"):
        stages.measure(str(lab_inventory), 1, 4)


def test_hosts_starts_its_own_lab_and_floor_and_stops_them(tmp_path):
    out = tmp_path / "stages.json"
    assert stages.main(["--hosts", "12", "--repeat", "1", "--forks", "4", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["hosts"] == 12 and doc["floor_ms_per_host"] > 0
    assert sum(doc["statuses"].values()) == 12


@pytest.mark.parametrize("argv", [[], ["lab.yml", "--hosts", "12"]])
def test_one_lab_exactly_is_asked_for(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        stages.main(argv)
    assert exit_.value.code == 2 and "INVENTORY or --hosts N" in capsys.readouterr().err
