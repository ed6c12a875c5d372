"""Scenario files: loader errors carry file:line, the generator is deterministic, `lab serve` runs and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml

from auditor.errors import BadInputError
from auditor.lab.generator import generate_fleet
from auditor.lab.scenarios import load_library, load_scenario

GOOD = "platform: windows\nexpect: {verdict: HEALTHY_NAT}\nwindows:\n  users:\n    - name: dev1\n"


@pytest.mark.parametrize("text, line, needle", [
    (GOOD + "  colour: blue\n", 6, "unknown key 'colour'"),
    ("platform: edge\nexpect: {verdict: HEALTHY_NAT}\n", 1, "not a edge verdict"),
    ("platform: windows\nexpect: {verdict: HEALTHY_NAT}\nwindows:\n  docker_desktop:\n    containers:\n"
     "      - {name: web, ports: ['80->80']}\n", 6, "not a port mapping"),
    ("platform: windows\nexpect: {verdict: HEALTHY_NAT}\nwindows:\n  docker_desktop: {owner: zed}\n", 4, "not one of the users"),
    ("platform: windows\nexpect: {verdict: HEALTHY_NAT\n", 3, "invalid YAML"),
    ("platform: linux\nexpect: {status: ok}\n", 1, "platform"),
    ("platform: windows\nexpect: {}\n", 1, "verdict or a status"),
    ("- platform: windows\n", 1, "one host per file"),
])
def test_loader_errors_name_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(BadInputError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}"), message
    assert needle in message


def test_lab_serve_reports_a_bad_scenario_in_one_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(GOOD + "  colour: blue\n")
    proc = subprocess.run([sys.executable, "-m", "auditor", "lab", "serve", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 4
    assert proc.stderr.strip().count("\n") == 0 and f"{path}:6" in proc.stderr and "Traceback" not in proc.stderr


def test_generator_is_seeded_and_names_hosts():
    lib = load_library()
    a, b = generate_fleet(lib, 300, seed=5), generate_fleet(lib, 300, seed=5)
    assert [(m.name, m.scenario.name) for m in a] == [(m.name, m.scenario.name) for m in b]
    assert [m.scenario.name for m in generate_fleet(lib, 300, seed=6)] != [m.scenario.name for m in a]
    assert a[0].name == "win-dev-0001" and a[-1].name.startswith("edge-")
    counts: dict[str, int] = {}
    for m in a:
        counts[m.scenario.name] = counts.get(m.scenario.name, 0) + 1
    assert counts["win-healthy-nat"] > counts.get("win-hung", 0)  # weights matter
    covered = generate_fleet(lib, len(lib), seed=1, cover=True)
    assert {m.scenario.name for m in covered} == {s.name for s in lib}


def test_lab_serve_writes_inventory_then_stops_on_sigterm(tmp_path):
    inv = tmp_path / "lab.yml"
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "lab", "serve", "--hosts", "6", "--seed", "3",
                             "--ports", "free", "--inventory-out", str(inv), "--fault", "win-dev-0001=slow:0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the inventory exists once this line is printed
            if line.startswith("inventory:"):
                break
        doc = yaml.safe_load(inv.read_text())
        hosts = {**doc["all"]["children"].get("windows", {}).get("hosts", {}),
                 **doc["all"]["children"].get("edge", {}).get("hosts", {})}
        assert len(hosts) == 6
        assert oct(os.stat(inv).st_mode & 0o777) == "0o600"
        if "edge" in doc["all"]["children"]:
            assert "StrictHostKeyChecking=yes" in doc["all"]["children"]["edge"]["vars"]["ansible_ssh_common_args"]
            assert inv.with_name("lab.known_hosts").read_text().count("ssh-ed25519") >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lab: stopped" in out
