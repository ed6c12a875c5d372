"""Before forking workers, the parent imports the transports the plans use (and only those) and freezes
its objects out of the collector's reach, so the children keep sharing those pages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from auditor.plan import HostPlan
from auditor.transports.base import ConnectionSpec
from auditor.workers import transport_modules


def _plan(name: str, connection: str) -> HostPlan:
    return HostPlan(name=name, platform="linux", groups=[], address="127.0.0.1", connection=connection,
                    spec=ConnectionSpec(name=name, host="127.0.0.1", connection=connection))


def test_modules_are_those_of_the_plans_connections_once_each():
    plans = [_plan("a", "ssh"), _plan("b", "winrm"), _plan("c", "ssh"), _plan("d", "made-up")]
    assert transport_modules(plans) == ["auditor.transports.ssh", "auditor.transports.winrm"]
    assert transport_modules([_plan("e", "local")]) == ["auditor.transports.local"]
    assert transport_modules([]) == []


def test_preload_imports_what_the_plans_use_and_nothing_else():
    # a fresh interpreter: this test process may already hold asyncssh from other tests
    code = textwrap.dedent("""
        import sys
        from auditor.plan import HostPlan
        from auditor.workers import preload_transports
        assert "auditor.transports.local" not in sys.modules
        preload_transports([HostPlan(name="a", platform="linux", groups=[], address="127.0.0.1", connection="local",
                                     spec=None)])
        print("local" if "auditor.transports.local" in sys.modules else "-", "asyncssh" in sys.modules,
              "auditor.transports.winrm" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["local", "False", "False"]


FORKED_RUN = textwrap.dedent("""
    import gc, sys
    from pathlib import Path
    from auditor.inventory.model import Host, Inventory
    from auditor.plan import build_plan
    from auditor.playbook import load_playbook
    from auditor.results import PlayResult, RunResult, utcnow
    from auditor.runner import RunOptions
    from auditor.workers import run_in_workers

    async def report(runner, plan, planned, transport):
        # in the worker: were the parent's objects frozen when it forked?
        return PlayResult(play=planned.play.name, playbook=planned.playbook, platform=plan.platform,
                          error=f"frozen={gc.get_freeze_count() > 0}")

    book = Path(sys.argv[1])
    book.write_text("- name: p\\n  hosts: all\\n")
    inv = Inventory()
    for name in ("a", "b"):
        inv.hosts[name] = Host(name, {"ansible_connection": "local"})
    plans = build_plan(inv, [load_playbook(book)])
    run = RunResult(run_id="t", auditor_version="", started=utcnow())
    run = run_in_workers(plans, run, RunOptions(), [], 2, play_executor=report)
    print(*[h.plays[0].error if h.plays else h.error for h in run.hosts], gc.get_freeze_count())
""")


def test_forked_workers_start_from_frozen_objects_and_the_parent_unfreezes(tmp_path: Path):
    # a fresh interpreter with no other thread, so the workers are forked
    proc = subprocess.run([sys.executable, "-c", FORKED_RUN, str(tmp_path / "pb.yml")], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["frozen=True", "frozen=True", "0"]


def test_hosts_are_dealt_in_blocks_each_exactly_once() -> None:
    from types import SimpleNamespace

    from auditor.workers import DEAL_BLOCK, deal

    plans = [SimpleNamespace(name=f"h{i}") for i in range(5 * DEAL_BLOCK + 7)]
    shares = deal(plans, 3)  # type: ignore[arg-type]
    assert sorted(p.name for share in shares for p in share) == sorted(p.name for p in plans)
    assert [len(s) for s in shares] == [2 * DEAL_BLOCK, 2 * DEAL_BLOCK, DEAL_BLOCK + 7]
    assert shares[1][:DEAL_BLOCK] == plans[DEAL_BLOCK:2 * DEAL_BLOCK]  # consecutive hosts stay together


def test_a_packed_share_gives_back_each_plan_sharing_the_parents_plays(tmp_path: Path) -> None:
    """A forked worker unpacks its share block by block: the same plans (secrets usable, in this process lineage),
    their PlannedPlay the parent's very objects (not copies per block)."""
    from auditor.inventory.model import Host, Inventory
    from auditor.plan import build_plan
    from auditor.playbook import load_playbook
    from auditor.workers import PackedPlans

    book = tmp_path / "pb.yml"
    book.write_text(textwrap.dedent("""\
        - name: p1
          hosts: all
          gather: {linux: [{name: k, command: uname -s}]}
          checks: [{id: K-1, title: t, that: ["true"]}]
        """))
    inv = Inventory()
    for i in range(150):
        inv.hosts[f"h{i}"] = Host(f"h{i}", {"ansible_user": "u", "ansible_password": f"pw-{i % 3}",
                                            "ansible_host": f"10.0.{i // 250}.{i % 250}"}, ["g"])
    plans = build_plan(inv, [load_playbook(book)])
    packed = PackedPlans(plans, block=64)
    again = list(packed)
    assert len(packed) == len(again) == 150
    assert [p.name for p in again] == [p.name for p in plans] and again[5] is not plans[5]
    assert [p.spec for p in again] == [p.spec for p in plans]
    assert all(a.plays[0] is plans[0].plays[0] for a in again)  # by reference, not a copy per block
    assert {s.reveal() for p in again for s in p.secrets} == {"pw-0", "pw-1", "pw-2"}


RELEASED_RUN = textwrap.dedent("""
    import os, sys, weakref
    from pathlib import Path
    from auditor.inventory.model import Host, Inventory
    from auditor.plan import build_plan
    from auditor.playbook import load_playbook
    from auditor.results import PlayResult, RunResult, utcnow
    from auditor.runner import RunOptions
    from auditor.sinks import BaseSink
    from auditor.workers import DEAL_BLOCK, run_in_workers

    DIE = sys.argv[2].split(",")  # the hosts whose worker dies when it gets to them ("-": none)

    async def report(runner, plan, planned, transport):
        if plan.name in DIE:
            os._exit(1)
        return PlayResult(play=planned.play.name, playbook=planned.playbook, platform=plan.platform)

    class Seen(BaseSink):
        names = []
        def host_finished(self, result):
            Seen.names.append(result.name)

    book = Path(sys.argv[1])
    book.write_text("- name: p\\n  hosts: all\\n")
    inv = Inventory()
    n = 4 * DEAL_BLOCK
    for i in range(n):
        inv.hosts[f"h{i:03d}"] = Host(f"h{i:03d}", {"ansible_connection": "local"})
    plans = build_plan(inv, [load_playbook(book)])
    alive = weakref.ref(plans[1])
    del inv
    run = RunResult(run_id="t", auditor_version="", started=utcnow())
    run = run_in_workers(plans, run, RunOptions(forks=1), [Seen()], 2, play_executor=report, keep_results=False,
                         release=True)
    unfinished = [h.name for h in run.hosts]
    print(len(plans), alive() is None, run.summary.hosts, len(Seen.names), ",".join(unfinished) or "-")
""")


def _released(tmp_path: Path, die: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", RELEASED_RUN, str(tmp_path / "pb.yml"), die], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_released_plans_are_let_go_before_the_workers_fork_and_every_host_is_still_counted(tmp_path: Path):
    from auditor.workers import DEAL_BLOCK

    n = 4 * DEAL_BLOCK
    assert _released(tmp_path, "-") == ["0", "True", str(n), str(n), "-"]


def test_with_released_plans_the_hosts_dead_workers_never_ran_are_reported_in_plan_order(tmp_path: Path):
    """Blocks are dealt round-robin: worker 0 has blocks 0 and 2, worker 1 blocks 1 and 3 (one lane each: in order).
    Each dies on the second host of its first block; the hosts they never finished come back as errors, found again
    in the packed shares, in plan order (not share by share)."""
    from auditor.workers import DEAL_BLOCK

    n = 4 * DEAL_BLOCK
    dies = [1, DEAL_BLOCK + 1]
    out = _released(tmp_path, ",".join(f"h{i:03d}" for i in dies))
    missing = [f"h{i:03d}" for i in range(n) if i not in (0, DEAL_BLOCK)]
    assert out[:4] == ["0", "True", str(n), str(n - len(missing))]
    assert out[4].split(",") == missing


SPAWNED_DEATH = textwrap.dedent("""
    import os, sys, threading
    from pathlib import Path
    from auditor.inventory.model import Host, Inventory
    from auditor.plan import build_plan
    from auditor.playbook import load_playbook
    from auditor.results import RunResult, utcnow
    from auditor.runner import RunOptions
    from auditor.workers import run_in_workers

    class DieOnArrival:
        # unpickled in the spawned worker before its end of the pipe: it dies without ever taking it
        def __reduce__(self):
            return (os._exit, (3,))

    threading.Thread(target=threading.Event().wait, daemon=True).start()  # a second thread: workers are spawned
    book = Path(sys.argv[1])
    book.write_text("- name: p\\n  hosts: all\\n")
    inv = Inventory()
    for name in ("a", "b", "c"):
        inv.hosts[name] = Host(name, {"ansible_connection": "local"})
    plans = build_plan(inv, [load_playbook(book)])
    run = RunResult(run_id="t", auditor_version="", started=utcnow())
    run = run_in_workers(plans, run, RunOptions(), [], 2, check_hook=DieOnArrival())
    print(*[f"{h.name}:{h.status.value}" for h in run.hosts])
""")


def test_a_spawned_worker_that_dies_before_taking_its_pipe_does_not_hang_the_run(tmp_path: Path):
    """It dies while unpickling what it was given, before its end of the pipe: the parent still sees the pipe end
    and reports every host (as not finished) instead of waiting for it."""
    proc = subprocess.run([sys.executable, "-c", SPAWNED_DEATH, str(tmp_path / "pb.yml")], capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["a:error", "b:error", "c:error"]
