"""`auditor lab serve` spread over several processes: served, audited, stopped; and refused, with the
limit named, when the machine's open-file limit cannot hold the fleet."""

from __future__ import annotations

import ipaddress
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
AUDITOR = [sys.executable, "-m", "auditor"]
PLAYBOOKS = [str(ROOT / "playbooks" / "mirrored-mode.yml"), str(ROOT / "playbooks" / "edge-nodes.yml")]


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else proc.returncode
        assert time.monotonic() < deadline, "the lab did not write its inventory in time"
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass


def test_a_fleet_served_by_two_processes_is_audited_whole(tmp_path):
    inventory = tmp_path / "lab.yml"
    lab = subprocess.Popen([*AUDITOR, "lab", "serve", "--hosts", "60", "--seed", "5", "--ports", "free",
                            "--processes", "2", "--inventory-out", str(inventory)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        _wait_for(inventory, lab, 120)
        inv = yaml.safe_load(inventory.read_text())["all"]["children"]
        win, edge = inv["windows"]["hosts"], inv["edge"]["hosts"]
        assert len(win) + len(edge) == 60
        win_addrs = {ipaddress.ip_address(h["ansible_host"]) for h in win.values()}
        edge_addrs = {ipaddress.ip_address(h["ansible_host"]) for h in edge.values()}
        assert not win_addrs & edge_addrs and len(win_addrs) == len(win) and len(edge_addrs) == len(edge)
        known = inventory.with_suffix(".known_hosts").read_text().splitlines()
        audit = subprocess.run([*AUDITOR, "run", *PLAYBOOKS, "-i", str(inventory), "--report", "json",
                                "-o", str(tmp_path / "reports"), "-q", "--host-deadline", "20"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=300)
        report = json.loads(next((tmp_path / "reports").glob("auditor-*.json")).read_text())
    finally:
        lab.send_signal(signal.SIGTERM)
        out, _ = lab.communicate(timeout=60)
    assert audit.returncode in (2, 3), audit.stdout + audit.stderr   # the scenario mix has failing checks
    hosts = {h["name"]: h for h in report["hosts"]}
    assert set(hosts) == set(win) | set(edge)
    # both shards answered: the inventory lists the fleet in generator order, and the processes take turns
    order = list(win) + list(edge)
    reached = {name for name, h in hosts.items() if h["status"] in ("ok", "failed")}
    assert reached & set(order[0::2]) and reached & set(order[1::2])
    assert {n for n in edge if hosts[n]["status"] in ("ok", "failed")}
    assert len(known) >= sum(1 for n in edge if hosts[n]["status"] in ("ok", "failed"))
    said = " ".join(out.split())
    assert "(served by 2 processes)" in said and "lab: stopped" in said
    assert lab.returncode == 0


def test_more_hosts_than_the_open_file_limit_allows_is_a_usage_error(tmp_path):
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    proc = subprocess.run([*AUDITOR, "lab", "serve", "--hosts", "40000", "--ports", "free",
                           "--inventory-out", str(tmp_path / "lab.yml")], capture_output=True, text=True,
                          preexec_fn=low_limit, cwd=tmp_path, timeout=120)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    message = " ".join((proc.stdout + proc.stderr).split())
    assert "RLIMIT_NOFILE" in message and "512" in message and "Traceback" not in message
    assert not (tmp_path / "lab.yml").exists()


def test_an_ssh_lab_host_that_cannot_listen_is_an_os_error_not_an_index_error(tmp_path):
    """asyncssh returns a server without sockets when every bind failed (here: no descriptor left);
    that used to surface as ``IndexError: tuple index out of range`` from ``lab serve``."""
    script = """
import asyncio, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from auditor.lab.sshd import LinuxHostModel, SshLabFleet, SshLabHost, lab_address
async def main():
    hosts = [SshLabHost(f"edge-{i:03d}", lab_address(i, "127.0.51"), LinuxHostModel(hostname=f"edge-{i:03d}")) for i in range(1, 81)]
    fleet = SshLabFleet(hosts, port=0)
    try:
        await fleet.start()
    except OSError as exc:
        print("OSError:", exc)
    finally:
        await fleet.stop()
asyncio.run(main())
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "OSError: cannot listen on 127.0.51." in proc.stdout and "out of file descriptors" in proc.stdout


def test_shards_stop_when_the_parent_is_killed_outright(tmp_path):
    inventory = tmp_path / "lab.yml"
    lab = subprocess.Popen([*AUDITOR, "lab", "serve", "--hosts", "10", "--ports", "free", "--processes", "2",
                            "--inventory-out", str(inventory)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                           cwd=tmp_path)
    _wait_for(inventory, lab, 120)
    shards = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_shard_of(int(p.name), lab.pid)]
    assert len(shards) == 2
    lab.kill()
    lab.wait(timeout=30)
    deadline = time.monotonic() + 30
    try:
        while any(_alive(pid) for pid in shards):
            assert time.monotonic() < deadline, "a lab shard outlived its parent"
            time.sleep(0.1)  # polling a condition with a deadline: the shards are not our children to wait for
    finally:
        for pid in shards:  # when the test fails: leave no lab behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _is_shard_of(pid: int, parent: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"auditor.lab.spread" in cmdline


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
