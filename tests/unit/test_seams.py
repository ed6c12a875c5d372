"""The seams of issue 14: connection precedence, secret-free plans, linear planning, sinks, the check hook,
stable keys, the library API's surface and old reports."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import textwrap
from pathlib import Path

import pytest

from auditor import api
from auditor.collectors.batch import frame, parse_sh_batch, sh_nonce
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Host, Inventory
from auditor.plan import build_plan
from auditor.playbook import load_playbook
from auditor.results import CheckResult, CheckStatus, HostResult, HostStatus, RunResult
from auditor.runner import RunOptions, Runner
from auditor.sinks import BaseSink
from auditor.transports.base import ExecResult, Transport

PLAYBOOK = """\
- name: basic
  hosts: all
  gather:
    linux:
      - {name: kernel, command: "uname -s", parser: text}
  checks:
    - id: K-1
      title: Linux kernel
      that: facts.kernel == 'Linux'
"""


class Answering(Transport):
    async def connect(self) -> None:
        pass

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        nonce = sh_nonce(script)
        out = b"".join(frame(nonce, item.name, b"Linux\n", 0)[0] for item in parse_sh_batch(script))
        return ExecResult(out, b"", 0)

    async def close(self) -> None:
        pass


def _book(tmp_path: Path, text: str = PLAYBOOK, name: str = "pb.yml"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_playbook(path)


def _inventory(n: int, **vars: object) -> Inventory:
    inv = Inventory()
    for i in range(n):
        inv.hosts[f"h{i}"] = Host(f"h{i}", dict(vars), ["g"])
    return inv


# --- connection settings: one precedence ------------------------------------------------------------


def test_host_timeout_is_kept_when_the_command_line_says_nothing(tmp_path: Path) -> None:
    inv = Inventory()
    inv.hosts["slow"] = Host("slow", {"ansible_timeout": 42})
    inv.hosts["args"] = Host("args", {"ansible_ssh_common_args": "-o ConnectTimeout=33"})
    inv.hosts["plain"] = Host("plain", {})
    plans = {p.name: p for p in build_plan(inv, [_book(tmp_path)])}
    assert plans["slow"].spec is not None and plans["slow"].spec.connect_timeout == 42.0
    assert plans["args"].spec is not None and plans["args"].spec.connect_timeout == 33.0
    assert plans["plain"].spec is not None and plans["plain"].spec.connect_timeout == 10.0


def test_an_explicit_command_line_value_wins_over_every_host(tmp_path: Path) -> None:
    inv = Inventory()
    inv.hosts["slow"] = Host("slow", {"ansible_timeout": 42, "ansible_ssh_common_args": "-o StrictHostKeyChecking=no"})
    cli = ConnectionDefaults(connect_timeout=3.0, command_timeout=7.0, host_key_checking="strict")
    plan = build_plan(inv, [_book(tmp_path)], cli=cli)[0]
    assert plan.spec is not None and plan.spec.ssh is not None
    assert (plan.spec.connect_timeout, plan.spec.command_timeout) == (3.0, 7.0)
    assert (plan.spec.ssh.connect_timeout, plan.spec.ssh.host_key_checking) == (3.0, "strict")


def test_the_runner_no_longer_overwrites_a_hosts_timeout(tmp_path: Path) -> None:
    seen: dict[str, float] = {}

    class Recording(Answering):
        async def connect(self) -> None:
            seen[self.spec.name] = self.spec.connect_timeout

    inv = Inventory()
    inv.hosts["slow"] = Host("slow", {"ansible_timeout": 42})
    plan = api.plan_audit([_book(tmp_path)], inv, options=RunOptions())
    asyncio.run(Runner(plan.options, transport_factory=Recording).run(plan.hosts, plan.header))
    assert seen == {"slow": 42.0}


def test_one_hosts_unusable_options_end_that_host_only(tmp_path: Path) -> None:
    inv = Inventory()
    inv.hosts["bad"] = Host("bad", {"ansible_connection": "winrm", "ansible_winrm_transport": "nonsense"})
    inv.hosts["good"] = Host("good", {})
    plan = api.plan_audit([_book(tmp_path)], inv)
    result = asyncio.run(Runner(plan.options, transport_factory=Answering).run(plan.hosts, plan.header))
    by_name = {h.name: h for h in result.hosts}
    assert by_name["bad"].status is HostStatus.error and "nonsense" in (by_name["bad"].error or "")
    assert by_name["good"].status is HostStatus.ok


# --- plans hold no secret in clear ------------------------------------------------------------------


def test_a_plan_pickles_without_any_secret(tmp_path: Path) -> None:
    from ansible.parsing.vault import VaultLib
    from ansible.parsing.vault import VaultSecret as AnsibleSecret

    from auditor.inventory.vault import VaultedValue, VaultSecret

    vaulted = VaultLib([("default", AnsibleSecret(b"vault-pw"))]).encrypt("Vaulted-Passw0rd!").decode()
    inv = Inventory()
    inv.hosts["w"] = Host("w", {"ansible_connection": "winrm", "ansible_user": "u", "ansible_port": 5985,
                                "ansible_password": VaultedValue(vaulted, (VaultSecret("default", b"vault-pw"),)),
                                "api_token": "Plain-Token-123"})
    inv.hosts["s"] = Host("s", {"ansible_password": "Plain-Passw0rd!", "winrm": {"password": "Nested-Secret-9"}})
    plan = api.plan_audit([_book(tmp_path)], inv)
    data = pickle.dumps(plan)
    for secret in (b"Vaulted-Passw0rd!", b"Plain-Token-123", b"Plain-Passw0rd!", b"Nested-Secret-9", b"vault-pw"):
        assert secret not in data
    by_name = {h.name: h for h in plan.hosts}
    assert by_name["w"].spec is not None and by_name["w"].spec.secret_password() == "Vaulted-Passw0rd!"
    assert "Plain-Token-123" not in repr(plan.hosts) and by_name["w"].variables["api_token"] == "********"


# --- planning is linear -------------------------------------------------------------------------------


def test_forty_thousand_hosts_plan_in_inventory_order(tmp_path: Path) -> None:
    inv = _inventory(40_000)
    plans = build_plan(inv, [_book(tmp_path)])
    assert len(plans) == 40_000 and plans[0].name == "h0" and plans[-1].name == "h39999"


# --- sinks and the check hook -------------------------------------------------------------------------


class Exploding(BaseSink):
    def host_finished(self, result: HostResult) -> None:
        raise RuntimeError("display broke")


def test_a_failing_sink_is_logged_and_the_run_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plan = api.plan_audit([_book(tmp_path)], _inventory(3))
    with caplog.at_level(logging.ERROR, logger="auditor"):
        result = asyncio.run(Runner(plan.options, [Exploding()], transport_factory=Answering).run(plan.hosts, plan.header))
    assert [h.status for h in result.hosts] == [HostStatus.ok] * 3 and not result.interrupted
    assert sum("display broke" in r.getMessage() for r in caplog.records) == 3


def test_a_critical_sink_stops_the_run_and_keeps_what_finished(tmp_path: Path) -> None:
    class Store(Exploding):
        critical = True

    plan = api.plan_audit([_book(tmp_path)], _inventory(20))
    plan.options.forks = 1
    result = asyncio.run(Runner(plan.options, [Store()], transport_factory=Answering).run(plan.hosts, plan.header))
    assert result.interrupted and "display broke" in (result.stop_reason or "")
    assert len(result.hosts) == 20  # nobody dropped
    assert result.hosts[0].status is HostStatus.ok
    assert sum(h.status is HostStatus.error for h in result.hosts) == 19


def test_the_check_hook_sees_stable_keys_and_may_replace_a_result(tmp_path: Path) -> None:
    keys: list[str] = []

    def waive(plan, check: CheckResult) -> CheckResult:  # type: ignore[no-untyped-def]
        keys.append(check.key)
        return check.model_copy(update={"status": CheckStatus.skipped, "message": "waived"})

    plan = api.plan_audit([_book(tmp_path, name="my-book.yml")], _inventory(1))
    result = asyncio.run(Runner(plan.options, check_hook=waive, transport_factory=Answering).run(plan.hosts, plan.header))
    assert keys == ["my-book/basic/K-1"]
    assert result.hosts[0].all_checks()[0].message == "waived"
    assert result.playbooks[0].id == "my-book" and result.playbooks[0].sha256 and len(result.playbooks[0].sha256) == 64


# --- the library API ---------------------------------------------------------------------------------


def test_the_public_api_is_pinned() -> None:
    assert sorted(api.__all__) == sorted([
        "AuditPlan", "BaseSink", "CheckHook", "ConnectionDefaults", "HostResult", "RunOptions", "RunResult", "Sink",
        "plan_audit", "plan_remediation", "run", "run_async", "stream",
    ])
    for name in api.__all__:
        assert hasattr(api, name), name


def test_stream_yields_every_host_as_it_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.runner

    monkeypatch.setattr(auditor.runner, "get_transport", Answering)
    plan = api.plan_audit([_book(tmp_path)], _inventory(5))

    async def collect() -> list[str]:
        return [h.name async for h in api.stream(plan)]

    assert sorted(asyncio.run(collect())) == [f"h{i}" for i in range(5)]


def test_planning_a_subset_under_an_existing_run_id(tmp_path: Path) -> None:
    plan = api.plan_audit([_book(tmp_path)], _inventory(10), only_hosts=["h3", "h7", "nope"], run_id="abc123")
    assert [h.name for h in plan.hosts] == ["h3", "h7"] and plan.run_id == "abc123"


def test_the_architecture_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/architecture.md's library example, executed as written against an in-memory transport."""
    import auditor.runner

    doc = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.ini").write_text("[edge]\nnode1\nnode2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(auditor.runner, "get_transport", Answering)
    namespace: dict[str, object] = {}
    exec(compile(code, "architecture.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["needs_action_count"] == 0 and namespace["finished"] == ["node1", "node2"]


# --- old reports -----------------------------------------------------------------------------------


def test_a_schema_1_report_still_loads_and_renders() -> None:
    from auditor.report.html import render_html
    from auditor.report.schema import load_report_data

    old = {
        "schema_version": "1.1", "run_id": "old", "kind": "audit", "auditor_version": "0.1.0",
        "started": "2026-11-21T08:00:00Z", "finished": "2026-11-21T08:00:10Z",
        "playbooks": ["playbooks/mirrored-mode.yml"], "inventory_sources": ["inv.yml"], "pattern": None,
        "limit": None, "options": {"forks": 100, "enabled": [], "made_up": 1}, "interrupted": False,
        "hosts": [{"id": "w1", "name": "w1", "address": "10.0.0.1", "connection": "winrm", "platform": "windows",
                   "status": "failed", "started": "2026-11-21T08:00:00Z", "finished": "2026-11-21T08:00:01Z",
                   "plays": [{"play": "p", "playbook": "playbooks/mirrored-mode.yml", "platform": "windows",
                              "verdict": {"name": "CONFLICT_CONFIRMED", "confidence": "high"}}]}],
        "summary": {},
    }
    run = load_report_data(json.loads(json.dumps(old)))
    assert isinstance(run, RunResult) and run.playbooks[0].id == "mirrored-mode"
    assert run.verdict_catalogue["CONFLICT_CONFIRMED"].tone == "conflict"
    assert "Conflict confirmed" in render_html(run)
