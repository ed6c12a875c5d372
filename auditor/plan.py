"""inventory + playbooks -> a plan: for each selected host, its resolved connection and the plays it runs.

A plan holds no raw inventory variable and no secret in clear: the connection is a resolved
``ConnectionSpec`` (its password a ``Secret``), expressions see ``variables`` with secrets masked, and the
values to scrub from the host's output are ``Secret`` objects too. Plans pickle safely (worker processes).

Plans of one ``build_plan`` share what is equal between hosts and never changed after planning: the
``PlannedPlay`` of a play, the ``Secret`` of a secret value (and the tuple of them), the options of a
connection (``WinrmOptions``...), masked nested values. Treat a plan as read-only once built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from auditor.inventory.connection import ConnectionDefaults, SpecCache, host_platform, plan_connection
from auditor.inventory.loader import gc_paused
from auditor.inventory.model import Host, Inventory
from auditor.inventory.patterns import limit_hosts
from auditor.playbook.schema import Play, Playbook
from auditor.secrets import Secret, plain_vars, public_vars, secret_values
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
    """One host's plan without plays, computed on its own: its connection resolved once (see ``resolve_spec``
    for precedence). ``build_plan`` gives every host exactly this, sharing the work hosts of a group have in
    common."""
    conn = plan_connection(host, cli)
    return HostPlan(
        name=host.name, platform=host_platform(host.vars), groups=list(host.groups), address=conn.address,
        connection=conn.connection, spec=conn.spec, spec_error=conn.error, variables=public_vars(host.vars),
        secrets=tuple(Secret(v) for v in sorted(secret_values(host.vars))),
    )


class _Planner:
    """``host_plan`` for many hosts: what depends only on a host's group variables (``Host.inherited``) is
    computed once per group set, and equal values are shared between plans (one ``Secret`` per secret value,
    one masked copy of the group variables), which also keeps plans small when they are pickled to workers."""

    def __init__(self, cli: ConnectionDefaults):
        self.cli = cli
        self.specs = SpecCache(cli)
        self.public: dict[int, dict[str, Any]] = {}                        # id(inherited) -> masked
        self.inherited_secrets: dict[tuple[Any, ...], frozenset[str]] = {}  # (id(inherited), overridden keys)
        self.secret: dict[str, Secret] = {}
        self.secret_tuples: dict[frozenset[str], tuple[Secret, ...]] = {}

    def plan(self, host: Host) -> HostPlan:
        base = host.inherited
        split = _own_vars(host, base) if base is not None else None
        if base is None or split is None:
            return host_plan(host, self.cli)
        own, overridden = split
        conn = self.specs.resolve(host, own)
        public = self.public.get(id(base))
        if public is None:  # the keyed dict stays alive: SpecCache holds it
            public = self.public[id(base)] = public_vars(base)
        key = (id(base), overridden)
        inherited = self.inherited_secrets.get(key)
        if inherited is None:
            inherited = self.inherited_secrets[key] = frozenset(
                secret_values({k: v for k, v in base.items() if k not in own}))
        if plain_vars(own):  # the usual own variables (address, port, labels): nothing to mask or scrub
            values, variables = inherited, {**public, **own}
        else:
            values, variables = inherited | secret_values(own), {**public, **public_vars(own)}
        secrets = self.secret_tuples.get(values)
        if secrets is None:
            secrets = self.secret_tuples[values] = tuple(self._secret(v) for v in sorted(values))
        return HostPlan(
            name=host.name, platform=host_platform(host.vars), groups=list(host.groups), address=conn.address,
            connection=conn.connection, spec=conn.spec, spec_error=conn.error, variables=variables, secrets=secrets,
        )

    def _secret(self, value: str) -> Secret:
        secret = self.secret.get(value)
        if secret is None:
            secret = self.secret[value] = Secret(value)
        return secret


_MISSING = object()


def _own_vars(host: Host, base: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """The host's variables that are not the very values of its inherited ones (``base``), in ``vars`` order,
    and which of them override an inherited one; None when ``vars`` is no longer ``base`` updated with them
    (a variable removed after loading)."""
    own = {k: v for k, v in host.vars.items() if base.get(k, _MISSING) is not v}
    overridden = tuple([k for k in own if k in base])
    if len(host.vars) - len(own) + len(overridden) != len(base):  # an inherited key is gone
        return None
    return own, overridden


def build_plan(
    inventory: Inventory,
    playbooks: Iterable[Any],
    limit: str | None = None,
    cli: ConnectionDefaults = ConnectionDefaults(),
    only_hosts: Iterable[str] | None = None,
) -> list[HostPlan]:
    """Every host selected by some play (and by --limit, and ``only_hosts`` when given), in inventory order,
    with its plays in order. Linear in hosts x plays; each host's plan is what ``host_plan`` gives it."""
    allowed: set[str] | None = None
    if limit:
        allowed = {h.name for h in limit_hosts(inventory, list(inventory.hosts.values()), limit)}
    if only_hosts is not None:
        wanted = set(only_hosts)
        allowed = wanted if allowed is None else allowed & wanted
    planner = _Planner(cli)
    by_host: dict[str, HostPlan] = {}
    with gc_paused():  # plans all stay alive: one full collection after, not one every 25 % of growth
        for playbook in playbooks:
            book_id = playbook_id(playbook)
            for play in playbook.plays:
                planned = PlannedPlay(playbook.path, play, book_id)  # the same for every host of the play
                for host in inventory.select(play.hosts):
                    if allowed is not None and host.name not in allowed:
                        continue
                    plan = by_host.get(host.name)
                    if plan is None:
                        plan = by_host[host.name] = planner.plan(host)
                    plan.plays.append(planned)
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
