"""What `auditor run` keeps of a run instead of its hosts: the same exit code, retry names and recap as from the
whole run in memory."""

from __future__ import annotations

import random

import pytest

from auditor.commands.run import exit_code_for
from auditor.console import RECAP_ROWS, _attention_rank
from auditor.failpolicy import parse_fail_on
from auditor.results import HostStatus
from auditor.rules import verdict_catalogue
from auditor.smallest import Smallest
from auditor.tally import RunTally
from tests.report_factory import make_run


def test_smallest_keeps_the_n_smallest_in_order() -> None:
    keys = list(range(1000))
    random.Random(3).shuffle(keys)
    best: Smallest[str] = Smallest(7)
    made: list[int] = []

    def make(k: int) -> str:
        made.append(k)
        return f"item{k}"

    for k in keys:
        best.add((k % 10, k), lambda k=k: make(k))  # type: ignore[misc]
    assert best.items() == [f"item{k}" for k in sorted(keys, key=lambda k: (k % 10, k))[:7]]
    assert len(best._held) == 7
    assert len(made) < len(keys) // 2  # items past the bound are never made


@pytest.mark.parametrize("policy", ["needs-action", "never", "high", "CONFLICT_CONFIRMED"])
@pytest.mark.parametrize("down", [True, False])
def test_a_tally_gives_what_the_whole_run_gives(policy: str, down: bool) -> None:
    run = make_run(500)
    if not down:  # a run where every host was reached: the policy decides
        run.hosts = [h for h in run.hosts if h.status in (HostStatus.ok, HostStatus.failed)]
        run.compute_summary()
    fail_on = parse_fail_on(policy, verdict_catalogue())
    tally = RunTally(fail_on)
    shuffled = list(run.hosts)
    random.Random(5).shuffle(shuffled)  # hosts finish in any order
    for host in shuffled:
        tally.host_finished(host)
    for interrupted in (False, True):
        run.interrupted = interrupted
        assert tally.exit_code(interrupted) == exit_code_for(run, fail_on)
    assert sorted(tally.not_ok) == sorted(h.name for h in run.hosts if h.status is not HostStatus.ok)
    expected = sorted(run.hosts, key=lambda h: _attention_rank(h, run))[:RECAP_ROWS]
    assert [h.name for h in tally.recap_hosts()] == [h.name for h in expected]
    assert tally.total == len(run.hosts)
