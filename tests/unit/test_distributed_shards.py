"""The distributed mode's pure parts: shard splitting and routing, what a shard message holds (never a secret),
URLs and options from the command line and the environment; and `auditor run` without the extra installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import api
from auditor.distributed.config import (BrokerUnreachable, check_dispatch, default_queue, display_url,
                                        resolve_broker_url, result_backend_url)
from auditor.distributed.coordinator import _exception_text
from auditor.distributed.shards import ShardSpec, shard_specs, split, task_id, vault_id_paths
from auditor.errors import BadInputError, ExitCode, UsageError
from auditor.inventory import load_inventory
from auditor.inventory.connection import ConnectionDefaults
from auditor.runner import RunOptions

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / "playbooks" / "mirrored-mode.yml")
SECRET = "S3cret-Passw0rd!"


def plan_of(tmp_path: Path, text: str) -> api.AuditPlan:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(text)
    return api.plan_audit([PLAYBOOK], load_inventory([str(inventory)]))


def windows_hosts(n: int, group_vars: str = "") -> str:
    hosts = "".join(f"        w{i:03d}: {{ansible_host: 127.0.0.1}}\n" for i in range(n))
    return ("all:\n  children:\n    windows:\n      vars:\n        ansible_connection: winrm\n"
            f"        ansible_password: {SECRET}\n{group_vars}      hosts:\n{hosts}")


def test_shards_are_balanced_and_keep_plan_order(tmp_path):
    plan = plan_of(tmp_path, windows_hosts(1001))
    shards = split(plan.hosts, 500, "auditor")
    assert [len(h) for _, h in shards] == [334, 334, 333]
    assert [n for _, hosts in shards for n in hosts] == [h.name for h in plan.hosts]
    assert split(plan.hosts, 5000, "q") == [("q", [h.name for h in plan.hosts])]


def test_a_group_variable_routes_its_hosts_to_a_queue(tmp_path):
    text = windows_hosts(3) + ("    site_b:\n      vars: {auditor_queue: site-b}\n      hosts:\n"
                               "        w001: {}\n")
    plan = plan_of(tmp_path, text)
    assert split(plan.hosts, 10, "main") == [("main", ["w000", "w002"]), ("site-b", ["w001"])]


def test_a_bad_queue_variable_names_the_host(tmp_path):
    plan = plan_of(tmp_path, windows_hosts(1, "        auditor_queue: 'no spaces please'\n"))
    with pytest.raises(BadInputError, match="host 'w000': auditor_queue"):
        split(plan.hosts, 10, "main")


def test_a_shard_message_carries_names_and_paths_never_a_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = plan_of(tmp_path, windows_hosts(4))
    (tmp_path / "vault.txt").write_text("vault-pass\n")
    specs = shard_specs(plan.header, plan.hosts, size=3, default_queue="auditor",
                        options=RunOptions(forks=7, connect_timeout=2.5, enabled={"probe"}),
                        connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file="known"),
                        inventory_sources=["hosts.yml", "extra-host,"], vault_password_files=["vault.txt"],
                        vault_ids=["prod@vault.txt"])
    assert [s.hosts for s in specs] == [["w000", "w001"], ["w002", "w003"]]
    body = json.dumps([s.model_dump(mode="json") for s in specs])
    assert SECRET not in body and "vault-pass" not in body
    first = specs[0]
    assert first.run_id == plan.run_id and (first.index, first.count) == (0, 2) and first.label == "shard 1/2"
    assert first.inventory == [str(tmp_path / "hosts.yml"), "extra-host,"]  # a file made absolute, a host list kept
    assert first.vault_password_files == [str(tmp_path / "vault.txt")] and first.vault_ids == [f"prod@{tmp_path}/vault.txt"]
    assert first.playbooks[0].path == PLAYBOOK and first.playbooks[0].sha256 == plan.header.playbooks[0].sha256
    assert first.options.known_hosts_file == "known"  # no such file here: as given
    assert first.options.run_options().forks == 7 and first.options.run_options().enabled == {"probe"}
    assert first.options.connection().host_key_checking == "strict"
    assert ShardSpec.model_validate(json.loads(body)[1]) == specs[1]
    assert task_id("abc", 7) == "auditor-abc-00007"


def test_vault_ids_without_a_label_are_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("x")
    assert vault_id_paths(["f", "dev@f"]) == [str(tmp_path / "f"), f"dev@{tmp_path / 'f'}"]


def test_broker_and_result_backend_urls(monkeypatch):
    monkeypatch.delenv("AUDITOR_BROKER", raising=False)
    monkeypatch.delenv("AUDITOR_RESULT_BACKEND", raising=False)
    with pytest.raises(UsageError, match="--broker URL or set AUDITOR_BROKER"):
        resolve_broker_url(None)
    with pytest.raises(UsageError, match="redis://"):
        resolve_broker_url("http://hub")
    monkeypatch.setenv("AUDITOR_BROKER", "redis://env:6379/0")
    assert resolve_broker_url(None) == "redis://env:6379/0"
    assert resolve_broker_url("redis://option/1") == "redis://option/1"
    assert result_backend_url("redis://hub/2") == "redis://hub/2"
    with pytest.raises(UsageError, match="AUDITOR_RESULT_BACKEND"):
        result_backend_url("amqp://guest@hub//")
    monkeypatch.setenv("AUDITOR_RESULT_BACKEND", "redis://results/3")
    assert result_backend_url("amqp://guest@hub//") == "redis://results/3"
    assert display_url("redis://:hunter2@hub:6379/0") == "redis://:***@hub:6379/0"
    assert display_url("amqp://guest:pw@hub//") == "amqp://guest:***@hub//"


def test_queue_and_dispatch_options(monkeypatch):
    monkeypatch.delenv("AUDITOR_QUEUE", raising=False)
    assert default_queue() == "auditor"
    monkeypatch.setenv("AUDITOR_QUEUE", "site-a")
    assert default_queue() == "site-a"
    with pytest.raises(UsageError, match="--dispatch: expected celery"):
        check_dispatch("dask", False, None)
    with pytest.raises(UsageError, match="cannot prompt"):
        check_dispatch("celery", True, None)
    with pytest.raises(UsageError, match="cannot prompt"):
        check_dispatch("celery", False, ["prod@prompt"])
    check_dispatch("celery", False, ["prod@/etc/auditor/vault"])
    assert BrokerUnreachable("x").exit_code == ExitCode.HOSTS_UNREACHABLE


def test_a_stored_exception_reads_as_one_line_without_importing_its_class():
    assert _exception_text({"exc_type": "Evil", "exc_module": "os", "exc_message": ["no run 'x'\nsecond line"]}) \
        == "no run 'x'"
    assert _exception_text({"exc_type": "WorkerLostError", "exc_message": []}) == "WorkerLostError"
    assert _exception_text(None) == "None"


BLOCK = ("import sys\nfor m in ('celery', 'kombu', 'redis', 'billiard'):\n    sys.modules[m] = None\n"
         "from auditor.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def test_auditor_run_needs_neither_celery_nor_redis(tmp_path):
    """With Celery and redis-py unimportable, a local run works; --dispatch and worker say what to install."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    windows:\n      hosts:\n        w1: {ansible_host: 127.0.0.1, "
                         "ansible_port: 1, ansible_connection: winrm, ansible_user: u, ansible_password: pw}\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", BLOCK, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)

    local = cli("run", PLAYBOOK, "-i", str(inventory), "-o", str(tmp_path / "out"), "--store", "none",
                "--connect-timeout", "1", "-q")
    assert local.returncode == ExitCode.HOSTS_UNREACHABLE, local.stderr
    assert json.loads(next((tmp_path / "out").glob("auditor-*.json")).read_text())["hosts"][0]["status"] == "unreachable"
    dispatched = cli("run", PLAYBOOK, "-i", str(inventory), "--dispatch", "celery", "--broker", "redis://127.0.0.1/0")
    assert dispatched.returncode == ExitCode.USAGE and "pip install 'auditor[distributed]'" in dispatched.stderr
    worker = cli("worker", "--broker", "redis://127.0.0.1/0")
    assert worker.returncode == ExitCode.USAGE and "pip install 'auditor[distributed]'" in worker.stderr
    assert "Traceback" not in local.stderr + dispatched.stderr + worker.stderr
