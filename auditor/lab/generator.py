"""Seeded fleets of any size, sampled from the scenario library with its weights.

The same ``(hosts, seed)`` always gives the same fleet: names, scenarios and order. Windows hosts are
named ``win-dev-0001``..., edge nodes ``edge-0001``... (numbered per platform, in fleet order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditor.lab.scenarios import Scenario


@dataclass(frozen=True)
class FleetMember:
    name: str
    scenario: Scenario


def name_hosts(scenarios: list[Scenario]) -> list[FleetMember]:
    """Give each scenario a host name: windows ones win-dev-NNNN, edge ones edge-NNNN."""
    counters = {"windows": 0, "edge": 0}
    members = []
    for sc in scenarios:
        counters[sc.platform] += 1
        prefix = "win-dev" if sc.platform == "windows" else "edge"
        members.append(FleetMember(f"{prefix}-{counters[sc.platform]:04d}", sc))
    return members


def generate_fleet(library: list[Scenario], hosts: int, seed: int, *, cover: bool = False,
                   reachable_only: bool = False) -> list[FleetMember]:
    """``hosts`` members drawn by weight. ``cover``: every scenario at least once first (when it fits),
    so a fleet of >= len(library) hosts shows every verdict. ``reachable_only`` drops the fault scenarios."""
    pool = [s for s in library if s.weight > 0 and (s.reachable or not reachable_only)]
    if not pool or hosts <= 0:
        return []
    rng = random.Random(seed)
    chosen: list[Scenario] = list(pool) if cover and hosts >= len(pool) else []
    chosen += rng.choices(pool, weights=[s.weight for s in pool], k=hosts - len(chosen))
    rng.shuffle(chosen)
    # Windows first, then edge: inventories read naturally; the shuffle still mixes scenarios.
    chosen.sort(key=lambda s: s.platform != "windows")
    return name_hosts(chosen)
