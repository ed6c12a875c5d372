"""inventory + playbooks -> a plan: for each selected host, its connection and the plays it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.errors import BadInputError
from auditor.inventory.connection import connection_spec, host_platform
from auditor.inventory.model import Host, Inventory
from auditor.playbook.schema import Play, Playbook
from auditor.transports.base import ConnectionSpec


@dataclass
class PlannedPlay:
    playbook: str
    play: Play


@dataclass
class HostPlan:
    host: Host
    spec: ConnectionSpec
    platform: str
    plays: list[PlannedPlay] = field(default_factory=list)


def build_plan(
    inventory: Inventory,
    playbooks: list[Playbook],
    limit: str | None = None,
    spec_overrides: dict | None = None,
) -> list[HostPlan]:
    """Every host selected by some play (and by --limit), in inventory order, with its plays in order."""
    allowed = None
    if limit:
        allowed = {h.name for h in _limit(inventory, limit)}
    by_host: dict[str, HostPlan] = {}
    for playbook in playbooks:
        for play in playbook.plays:
            for host in inventory.select(play.hosts):
                if allowed is not None and host.name not in allowed:
                    continue
                plan = by_host.get(host.name)
                if plan is None:
                    try:
                        spec = connection_spec(host, **(spec_overrides or {}))
                    except (TypeError, ValueError) as exc:
                        raise BadInputError(f"host {host.name!r}: bad connection variables: {exc}") from None
                    plan = by_host[host.name] = HostPlan(host, spec, host_platform(host.vars))
                plan.plays.append(PlannedPlay(playbook.path, play))
    order = list(inventory.hosts)
    return sorted(by_host.values(), key=lambda p: order.index(p.host.name) if p.host.name in order else len(order))


def _limit(inventory: Inventory, limit: str) -> list[Host]:
    try:
        from auditor.inventory.patterns import limit_hosts  # full Ansible --limit (incl. @file)
    except ImportError:
        return inventory.select(limit)
    return limit_hosts(inventory, list(inventory.hosts.values()), limit)
