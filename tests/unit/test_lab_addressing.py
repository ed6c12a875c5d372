"""Lab addresses and how many processes serve a fleet (pure logic)."""

from __future__ import annotations

import ipaddress

import pytest

from auditor.lab.addressing import (
    CapacityError,
    assign_addresses,
    block_capacity,
    fleet_address,
    plan_processes,
)


@pytest.mark.parametrize("hosts", [20_000, 100_000])
def test_windows_and_edge_addresses_never_overlap(hosts):
    # every split of the fleet between the two kinds, at the extremes and in between
    for windows in (0, 1, hosts // 3, hosts * 7 // 10, hosts - 1, hosts):
        platforms = ["windows"] * windows + ["edge"] * (hosts - windows)
        addrs = assign_addresses(platforms)
        assert len(set(addrs)) == hosts
        win, edge = set(addrs[:windows]), set(addrs[windows:])
        assert not win & edge
        for a in addrs[:: max(1, hosts // 500)] + addrs[-3:]:
            ip = ipaddress.ip_address(a)
            assert ip.is_loopback and not a.startswith("127.0.") and a.split(".")[3] not in ("0", "255")


def test_blocks_are_disjoint_at_their_ends():
    last_win = fleet_address("windows", block_capacity("windows"))
    first_edge = fleet_address("edge", 1)
    assert (last_win, first_edge) == ("127.63.255.254", "127.64.0.1")
    assert fleet_address("windows", 1) == "127.1.0.1"
    assert fleet_address("windows", 254) == "127.1.0.254" and fleet_address("windows", 255) == "127.1.1.1"
    assert fleet_address("edge", block_capacity("edge")) == "127.127.255.254"
    with pytest.raises(CapacityError, match="windows block holds"):
        fleet_address("windows", block_capacity("windows") + 1)


def test_one_process_while_the_file_limit_allows():
    plan = plan_processes(5_000, 20_000)
    assert plan.processes == 1 and plan.reserve == 2048


def test_spread_when_one_process_may_not_open_enough_files():
    plan = plan_processes(20_000, 20_000)     # 20,000 listeners + connections > 20,000 files
    assert plan.processes == 2 and plan.hosts_per_process == 10_000
    assert plan_processes(100_000, 20_000).processes == 6
    assert plan_processes(1_000, 1_024).processes == 2   # 768 hosts per process with 256 kept for connections
    assert plan_processes(100, 20_000, processes=3).processes == 3


def test_a_limit_too_low_is_named():
    with pytest.raises(CapacityError, match=r"RLIMIT_NOFILE.*ulimit"):
        plan_processes(20_000, 256)           # 192 hosts a process: 105 processes
    with pytest.raises(CapacityError, match="fs.file-max"):
        plan_processes(20_000, 20_000, system_free_files=15_000)
    with pytest.raises(CapacityError, match="at least 2 are needed"):
        plan_processes(20_000, 20_000, processes=1)
