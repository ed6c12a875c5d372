"""The runner's orchestration logic, with scripted in-memory transports (real servers: tests/integration)."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from auditor.collectors.batch import frame, parse_sh_batch, sh_nonce
from auditor.inventory.model import Host, Inventory
from auditor.plan import build_plan
from auditor.playbook import load_playbook
from auditor.results import CheckStatus, HostStatus, PlaybookRef
from auditor.runner import RunOptions, Runner, new_run, secret_free_json
from auditor.sinks import BaseSink
from auditor.transports.base import AuthFailed, ConnectFailed, ExecResult, Transport

PLAYBOOK = """\
- name: basic
  hosts: all
  gather:
    linux:
      - {name: kernel, command: "uname -s", parser: text}
      - {name: flag, command: "cat /flag", parser: text}
  checks:
    - id: K-1
      title: Linux kernel
      that: facts.kernel == 'Linux'
      evidence: {kernel: facts.kernel, user: vars.ansible_user, pw: vars.ansible_password}
    - id: K-2
      title: flag off
      that: facts.flag == 'off'
      fail_msg: "flag is {{ facts.flag }}"
    - id: K-3
      title: opt-in only
      opt_in: probe
      that: "true"
    - id: K-4
      title: windows only
      platforms: [windows]
      that: "true"
"""


class ScriptedTransport(Transport):
    """Answers batches from a per-host behaviour; pure in-memory, for orchestration logic only."""

    live = 0
    peak = 0
    behaviours: dict[str, str] = {}

    def __init__(self, spec):
        super().__init__(spec)
        self.behaviour = ScriptedTransport.behaviours.get(spec.name, "ok")

    async def connect(self):
        if self.behaviour == "auth":
            raise AuthFailed("authentication failed for user 'u'")
        if self.behaviour == "refused":
            raise ConnectFailed("connection refused")
        ScriptedTransport.live += 1
        ScriptedTransport.peak = max(ScriptedTransport.peak, ScriptedTransport.live)

    async def run(self, script, timeout=None):
        if self.behaviour == "hang":
            await asyncio.Event().wait()
        if self.behaviour == "garbage":
            return ExecResult(b"\x00\xff garbage @@AUDITOR:deadbeef:BEGIN:kernel\n", b"", 0)
        if self.behaviour == "crash":
            raise RuntimeError("boom")
        if self.behaviour == "flood":
            return ExecResult(b"y\n" * 500, b"", None, truncated=True)
        await asyncio.sleep(0)
        nonce = sh_nonce(script)
        out, err = b"", b""
        answers = {"kernel": b"Linux\n", "flag": b"on\n" if self.behaviour == "flag-on" else b"off\n"}
        for item in parse_sh_batch(script):
            o, e = frame(nonce, item.name, answers[item.name] + self.spec.secret_password().encode(), 0) if self.behaviour == "leak" else frame(nonce, item.name, answers[item.name], 0)
            out, err = out + o, err + e
        return ExecResult(out, err, 0)

    async def close(self):
        ScriptedTransport.live -= 1 if self.behaviour not in ("auth", "refused") else 0


def make_inventory(behaviours: dict[str, str]) -> Inventory:
    inv = Inventory()
    for name, behaviour in behaviours.items():
        inv.hosts[name] = Host(name, {"ansible_user": "u", "ansible_password": "s3cret-pw"}, ["g"])
    ScriptedTransport.behaviours = dict(behaviours)
    return inv


def run(tmp_path, behaviours, **opts):
    path = tmp_path / "pb.yml"
    path.write_text(textwrap.dedent(PLAYBOOK))
    book = load_playbook(path)
    plans = build_plan(make_inventory(behaviours), [book])
    options = RunOptions(**{"host_deadline": 1.0, **opts})
    events = Recorder()
    runner = Runner(options, sinks=[events], transport_factory=ScriptedTransport)
    result = asyncio.run(runner.run(plans, new_run([PlaybookRef(path=book.path, id="pb", sha256=book.sha256)], [], None, options)))
    return result, events.events


class Recorder(BaseSink):
    """Records what the runner tells its sinks, in order, as (kind, host name)."""

    def __init__(self):
        self.events = []

    def run_started(self, run, total):
        self.events.append(("run_started", None))

    def host_started(self, name):
        self.events.append(("host_started", name))

    def host_finished(self, result):
        self.events.append(("host_finished", result.name))

    def run_finished(self, run):
        self.events.append(("run_finished", None))


def test_every_host_ends_with_the_right_outcome(tmp_path):
    behaviours = {"ok": "ok", "on": "flag-on", "auth": "auth", "refused": "refused", "hang": "hang",
                  "garbage": "garbage", "crash": "crash"}
    result, events = run(tmp_path, behaviours)
    by_name = {h.name: h for h in result.hosts}
    assert [h.name for h in result.hosts] == list(behaviours)  # inventory order, none dropped
    assert by_name["ok"].status is HostStatus.ok
    assert by_name["on"].status is HostStatus.failed
    assert by_name["auth"].status is HostStatus.auth_failed
    assert by_name["refused"].status is HostStatus.unreachable
    assert by_name["hang"].status is HostStatus.timed_out
    assert "deadline" in by_name["hang"].error
    assert by_name["garbage"].status is HostStatus.error
    assert "malformed" in by_name["garbage"].error
    assert by_name["crash"].status is HostStatus.error
    assert result.summary.by_status == {"ok": 1, "failed": 1, "auth_failed": 1, "unreachable": 1, "timed_out": 1, "error": 2}
    finished = [name for kind, name in events if kind == "host_finished"]
    assert sorted(finished) == sorted(behaviours)
    assert events[0][0] == "run_started" and events[-1][0] == "run_finished"


def test_check_statuses_messages_and_evidence(tmp_path):
    result, _ = run(tmp_path, {"on": "flag-on"})
    checks = {c.id: c for c in result.hosts[0].all_checks()}
    assert checks["K-1"].status is CheckStatus.passed
    assert checks["K-1"].evidence["kernel"] == "Linux"
    assert checks["K-2"].status is CheckStatus.failed and checks["K-2"].message == "flag is on"
    assert checks["K-3"].status is CheckStatus.skipped and "--enable probe" in checks["K-3"].message
    assert checks["K-4"].status is CheckStatus.not_applicable
    result, _ = run(tmp_path, {"on": "flag-on"}, enabled={"probe"})
    assert {c.id: c for c in result.hosts[0].all_checks()}["K-3"].status is CheckStatus.passed


def test_secrets_never_reach_results(tmp_path):
    result, _ = run(tmp_path, {"leak": "leak"})
    dumped = result.model_dump_json()
    assert "s3cret-pw" not in dumped
    assert result.hosts[0].all_checks()[0].evidence["pw"] == "********"


def test_the_secret_search_finds_every_secret_the_scrub_would_mask(tmp_path):
    """``secret_free_json`` lets a host skip the scrub; it must never give a text where the scrub would change something."""
    result, _ = run(tmp_path, {"on": "flag-on"})
    host = result.hosts[0]
    assert secret_free_json(host, {"s3cret-pw"}) == host.model_dump_json()  # the text the worker then sends
    assert secret_free_json(host, {"flag is on"}) is None          # in a check message
    assert secret_free_json(host, {"Linux"}) is None               # in evidence
    # characters JSON escapes: never searched for, always scrubbed
    for odd in ('pa"ss', "pa\\ss", "p\u00e4ss", "pa\tss", "snow\u2603"):
        assert secret_free_json(host, {odd, "s3cret-pw"}) is None


def test_a_worker_sends_the_text_the_secret_search_made_and_never_one_with_a_secret(tmp_path):
    """The runner hands a worker's pipe sink the JSON it made while looking for secrets (one serialisation a
    host); a host whose result held a secret is scrubbed and gets no text: the sink serialises the scrubbed one."""
    path = tmp_path / "pb.yml"
    path.write_text(textwrap.dedent(PLAYBOOK))
    book = load_playbook(path)
    plans = build_plan(make_inventory({"clean": "ok", "leaky": "leak"}), [book])
    options = RunOptions(host_deadline=1.0)
    serialised: dict[str, str] = {}
    seen: dict[str, tuple[str | None, str]] = {}

    class Pipe(BaseSink):
        def host_finished(self, result):
            seen[result.name] = (serialised.pop(result.name, None), result.model_dump_json())

    runner = Runner(options, sinks=[Pipe()], transport_factory=ScriptedTransport, serialised=serialised)
    asyncio.run(runner.run(plans, new_run([PlaybookRef(path=book.path, id="pb", sha256=book.sha256)], [], None, options)))
    given, dumped = seen["clean"]
    assert given == dumped
    given, dumped = seen["leaky"]
    assert given is None and "s3cret-pw" not in dumped
    assert serialised == {}


def test_forks_bound_hosts_in_flight(tmp_path):
    ScriptedTransport.live = ScriptedTransport.peak = 0
    result, _ = run(tmp_path, {f"h{i}": "ok" for i in range(30)}, forks=4)
    assert len(result.hosts) == 30
    assert 1 <= ScriptedTransport.peak <= 4


@pytest.mark.parametrize("hosts, cpus, expected", [(49, 2, 1), (99, 2, 1), (100, 2, 2), (1000, 2, 2), (1000, 16, 8), (150, 4, 3), (0, 4, 1)])
def test_auto_workers_only_uses_more_cores_when_each_gets_real_work(hosts, cpus, expected):
    from auditor.workers import auto_workers

    assert auto_workers(hosts, cpus) == expected


def test_a_flood_over_the_bound_says_output_too_large(tmp_path):
    result, _ = run(tmp_path, {"flood": "flood"})
    assert result.hosts[0].status is HostStatus.error
    assert result.hosts[0].error.startswith("output too large: the host sent more than 1000 bytes")


@pytest.mark.parametrize("parser, text", [("json", "[" * 100_000 + "]" * 100_000), ("ndjson", "{}\n" + "[" * 100_000)])
def test_json_parsers_report_deep_nesting_as_their_parse_error(parser, text):
    from auditor.parsers.registry import CollectorOutput, ParseError, get_parser

    with pytest.raises(ParseError, match="nesting too deep|expected"):
        get_parser(parser)(CollectorOutput("x", text.encode(), b"", 0))
