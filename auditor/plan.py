"""inventory + playbooks -> a plan: for each selected host, its resolved connection and the plays it runs.

A plan holds no raw inventory variable and no secret in clear: the connection is a resolved
``ConnectionSpec`` (its password a ``Secret``), expressions see ``variables`` with secrets masked, and the
values to scrub from the host's output are ``Secret`` objects too. Plans pickle safely (worker processes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from auditor.errors import BadInputError, TransportError
from auditor.inventory.connection import ConnectionDefaults, connection_request, host_platform, resolve_spec
from auditor.inventory.model import Host, Inventory
from auditor.inventory.patterns import limit_hosts
from auditor.playbook.schema import Play, Playbook
from auditor.secrets import Secret, public_vars, secret_values
from auditor.transports.base import ConnectionSpec

@dataclass
class PlannedPlay:
    playbook: str       # the playbook's path, as recorded in the run
    play: Any           # Play or RemediationPlay
    playbook_id: str = ""  # the stable short name used in check keys (file stem unless the playbook names one)


@dataclass
class HostPlan:
    name: str
    platform: str
    groups: list[str]
    address: str
    connection: str
    spec: ConnectionSpec | None             # None when the host's connection options are unusable
    spec_error: str | None = None           # ... and why: the host ends as an error, the others go on
    variables: dict[str, Any] = field(default_factory=dict)  # host vars as expressions see them (secrets masked)
    secrets: tuple[Secret, ...] = ()         # values to scrub from whatever comes back from this host
    plays: list[PlannedPlay] = field(default_factory=list)

    @property
    def port(self) -> int | None:
        return self.spec.port if self.spec is not None else None


def host_plan(host: Host, cli: ConnectionDefaults) -> HostPlan:
    """One host's plan without plays: its connection resolved once (see ``resolve_spec`` for precedence)."""
    try:
        request = connection_request(host)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"host {host.name!r}: bad connection variables: {exc}") from None
    spec: ConnectionSpec | None
    error = None
    try:
        spec = resolve_spec(request, cli)
    except TransportError as exc:
        spec, error = None, str(exc)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"host {host.name!r}: bad connection variables: {exc}") from None
    return HostPlan(
        name=host.name, platform=host_platform(host.vars), groups=list(host.groups), address=request.host,
        connection=request.connection, spec=spec, spec_error=error, variables=public_vars(host.vars),
        secrets=tuple(Secret(v) for v in sorted(secret_values(host.vars))),
    )


def build_plan(
    inventory: Inventory,
    playbooks: Iterable[Any],
    limit: str | None = None,
    cli: ConnectionDefaults = ConnectionDefaults(),
    only_hosts: Iterable[str] | None = None,
) -> list[HostPlan]:
    """Every host selected by some play (and by --limit, and ``only_hosts`` when given), in inventory order,
    with its plays in order. Linear in hosts x plays."""
    allowed: set[str] | None = None
    if limit:
        allowed = {h.name for h in limit_hosts(inventory, list(inventory.hosts.values()), limit)}
    if only_hosts is not None:
        wanted = set(only_hosts)
        allowed = wanted if allowed is None else allowed & wanted
    by_host: dict[str, HostPlan] = {}
    for playbook in playbooks:
        book_id = playbook_id(playbook)
        for play in playbook.plays:
            for host in inventory.select(play.hosts):
                if allowed is not None and host.name not in allowed:
                    continue
                plan = by_host.get(host.name)
                if plan is None:
                    plan = by_host[host.name] = host_plan(host, cli)
                plan.plays.append(PlannedPlay(playbook.path, play, book_id))
    position = {name: i for i, name in enumerate(inventory.hosts)}
    last = len(position)
    return sorted(by_host.values(), key=lambda p: position.get(p.name, last))


def playbook_id(playbook: Any) -> str:
    """The playbook's stable short name: its ``id`` if it declares one, else the file name without extension."""
    declared = getattr(playbook, "id", None)
    if declared:
        return str(declared)
    from pathlib import PurePath

    return PurePath(str(playbook.path)).stem
