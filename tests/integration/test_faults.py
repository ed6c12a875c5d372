"""Fault injection on the process around the audit (issue 15): a worker killed with SIGKILL, SIGTERM to `run`
and `remediate`, secrets planted in every form and echoed back by hosts, terminal escape sequences sent by
hostile SSH and WinRS hosts, an output folder that cannot be written. docs/reliability.md lists the guarantees
these prove."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.report.html import page_data
from auditor.report.schema import load_report
from auditor.store import open_store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
EDGE = str(ROOT / "playbooks" / "edge-nodes.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1m"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "auditor", *args]


def fleet_of(scenarios: list[str], faults: dict[int, dict[str, object]] | None = None) -> LabFleet:
    library = {s.name: s for s in load_library()}
    members = name_hosts([library[n] for n in scenarios])
    return LabFleet(members, ports="free", faults={members[i].name: f for i, f in (faults or {}).items()})


def wait_for_recorded(store_url: str, db: Path, proc: subprocess.Popen, at_least: int, deadline_s: float = 120) -> str:
    """The run's id once the store holds ``at_least`` of its hosts (a real condition, polled with a deadline)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if db.exists():
            with open_store(store_url) as store:
                runs = store.list_runs(limit=1)
                if runs and len(store.recorded_hosts(runs[0].id)) >= at_least:
                    return runs[0].id
        assert proc.poll() is None, "the run ended before the fault could be injected"
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} hosts recorded within {deadline_s}s")


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in map(int, children):
        out += [child, *descendants(child)]
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def only_report(folder: Path):  # type: ignore[no-untyped-def]
    reports = list(folder.glob("auditor-*.json"))
    assert len(reports) == 1, reports
    return load_report(reports[0])


# --- process faults ---------------------------------------------------------------------------------


def test_a_worker_killed_mid_run_loses_no_host(tmp_path: Path) -> None:
    scenarios = ["win-healthy-nat", "edge-ok-native"] * 20
    fleet = fleet_of(scenarios, {i: {"slow": 0.4} for i in range(10, 40)})
    db = tmp_path / "h.db"
    url = f"sqlite:///{db}"
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        proc = subprocess.Popen(cli("run", AUDIT, EDGE, "-i", str(inventory), "--workers", "2", "--forks", "4", "--store", url,
                                    "--host-key-checking", "strict", "--known-hosts", str(known), "--report", "json",
                                    "-o", str(tmp_path / "out"), "-q"), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for_recorded(url, db, proc, 4)
        workers = descendants(proc.pid)
        assert len(workers) >= 2, workers
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=240)
    assert proc.returncode == 3, out + err  # the dead worker's unfinished hosts are errors
    report = only_report(tmp_path / "out")
    assert sorted(h.name for h in report.hosts) == sorted(h.name for h in fleet.hosts)  # every host, once
    died = [h for h in report.hosts if h.error == "its worker process ended unexpectedly"]
    assert died and len(died) < len(fleet.hosts)
    assert sum(h.status.value in ("ok", "failed") for h in report.hosts) >= 4  # the survivors' and the dead's finished hosts


@pytest.mark.parametrize("command", ["run", "remediate"])
def test_sigterm_writes_partial_reports_and_leaves_no_process(tmp_path: Path, command: str) -> None:
    scenarios = ["win-conflict-confirmed"] * 10
    fleet = fleet_of(scenarios, {i: {"slow": 0.5} for i in range(2, 10)})
    db = tmp_path / "h.db"
    url = f"sqlite:///{db}"
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        common = ["-i", str(inventory), "--store", url, "--host-key-checking", "strict", "--known-hosts", str(known),
                  "--report", "json", "-o", str(tmp_path / "out"), "--forks", "2", "-q"]
        args = cli("run", AUDIT, "--workers", "2", *common) if command == "run" else \
            cli("remediate", REVERT, "--yes", *common)
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run_id = wait_for_recorded(url, db, proc, 2)
        family = [proc.pid, *descendants(proc.pid)]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 99, out + err
    assert "Traceback" not in err
    report = only_report(tmp_path / "out")
    assert report.interrupted and len(report.hosts) == len(scenarios)
    assert any(h.error == "run interrupted before this host finished" for h in report.hosts)
    assert (tmp_path / "out" / "last.retry").exists()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in family if alive(p)]
    with open_store(url) as store:
        assert store.get_run(run_id).state.value == "interrupted"


# --- secrets ------------------------------------------------------------------------------------------

SECRETS = {"vaulted": "Vaulted-Secret-4711", "nested": "Nested-Winrm-Pw-0815", "api": "Api-Key-Value-9999",
           "token": "Token-Value-31337", "passphrase": "Pass-Phrase-2718"}


def test_secrets_planted_in_every_form_never_reach_any_output(tmp_path: Path) -> None:
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("vault-password-for-tests\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    vaulted = subprocess.run([str(ansible_vault), "encrypt_string", "--vault-password-file", str(vault_pass),
                              SECRETS["vaulted"], "--name", "ansible_password"], capture_output=True, text=True, check=True).stdout
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all:\n  hosts:\n    echo1:\n      ansible_connection: local\n      "
                         + vaulted.replace("\n", "\n      ").rstrip() + "\n"
                         f"      winrm:\n        password: {SECRETS['nested']}\n"
                         f"      api_key: {SECRETS['api']}\n      deploy_token: {SECRETS['token']}\n"
                         f"      ssh_passphrase: {SECRETS['passphrase']}\n")
    echo = " ".join(SECRETS.values())
    playbook = tmp_path / "echo.yml"
    playbook.write_text(f"""- name: echo
  hosts: all
  gather:
    linux:
      - {{name: said, command: "echo {echo}; echo {echo} >&2", parser: text}}
      - {{name: raw, command: "echo password={SECRETS['vaulted']} token={SECRETS['token']}", parser: keyvalue}}
  checks:
    - id: E-1
      title: the host echoes
      that: "facts.said == 'nothing'"
      fail_msg: "host said {{{{ facts.said }}}}"
      evidence: {{said: facts.said, raw: facts.raw}}
""")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    out = subprocess.run(cli("run", str(playbook), "-i", str(inventory), "--vault-password-file", str(vault_pass),
                             "--store", url, "--report", "json,html,csv,junit", "--include-facts", "-o", str(tmp_path / "out")),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    report = only_report(tmp_path / "out")
    assert report.hosts[0].all_checks()[0].message.startswith("host said ********")
    texts = {"stdout": out.stdout, "stderr": out.stderr}
    for path in (tmp_path / "out").iterdir():
        texts[path.name] = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".html":   # host details travel compressed in the page: unpacked, they are searched too
            texts[path.name + " (unpacked)"] = json.dumps(page_data(texts[path.name]), ensure_ascii=False)
    with open_store(url) as store:
        texts["store: run"] = store.load_run(report.run_id).model_dump_json()
    with sqlite3.connect(tmp_path / "h.db") as db:  # plain columns (check messages, evidence digests...)
        for table, in db.execute("select name from sqlite_master where type='table'"):
            texts[f"store: {table}"] = json.dumps(db.execute(f"select * from {table}").fetchall(), default=repr)
    for name, text in texts.items():
        for secret in SECRETS.values():
            assert secret not in text, (name, secret)


# --- terminal escapes -----------------------------------------------------------------------------------


def test_hostile_ssh_and_winrs_hosts_cannot_drive_the_terminal(tmp_path: Path) -> None:
    fleet = fleet_of(["win-healthy-nat", "edge-ok-native"], {0: {"hostile": HOSTILE}, 1: {"hostile": HOSTILE}})
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        out = subprocess.run(cli("run", AUDIT, EDGE, "-i", str(inventory), "--store", "none", "--host-key-checking", "strict",
                                 "--known-hosts", str(known), "--report", "json,csv", "-o", str(tmp_path / "out")),
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 3, out.stdout + out.stderr
    shown = out.stdout + out.stderr
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert shown.count("\\x1b") >= 2  # both hosts' text is there, made visible
    report = only_report(tmp_path / "out")
    assert all("pwned" in (h.error or "") for h in report.hosts)  # the JSON keeps the data (it escapes it itself)


# --- output folder -----------------------------------------------------------------------------------


def test_an_unwritable_output_folder_is_refused_before_anything_connects(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    out = subprocess.run(cli("run", AUDIT, "-i", "10.255.255.1,", "--store", url, "-o", str(blocker / "reports")),
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "cannot write reports there" in out.stderr and "Traceback" not in out.stderr
    if (tmp_path / "h.db").exists():
        with open_store(url) as store:
            assert store.list_runs(limit=5) == []  # nothing was started, let alone recorded
