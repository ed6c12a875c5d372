"""What a shard message carries, and how a planned run is split into shards (no Celery import here).

A shard carries names and paths, never a credential: the run id, its host names, the playbooks' paths and
sha256, the inventory sources, the limit, the run options, the SSH host-key settings and the *paths* of
the vault password files. Each runner loads the same inventory and opens the vault with its own copy of
those files, so no password crosses the broker (tested on the raw Redis traffic).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from auditor.distributed.config import QUEUE_VAR, check_queue_name
from auditor.errors import BadInputError
from auditor.inventory.connection import ConnectionDefaults
from auditor.plan import HostPlan
from auditor.results import RunResult
from auditor.runner import RunOptions


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaybookPin(_Model):
    path: str                  # as the run records it (and as the plays' results name it)
    file: str                  # where a runner reads it (absolute)
    sha256: str | None = None  # the coordinator's copy: a runner with another file refuses the shard


class ShardOptions(_Model):
    forks: int
    connect_timeout: float | None = None
    command_timeout: float | None = None
    host_deadline: float
    enabled: list[str] = Field(default_factory=list)
    include_facts: bool = False
    host_key_checking: str | None = None
    known_hosts_file: str | None = None

    @classmethod
    def of(cls, options: RunOptions, connection: ConnectionDefaults) -> ShardOptions:
        return cls(forks=options.forks, connect_timeout=options.connect_timeout, command_timeout=options.command_timeout,
                   host_deadline=options.host_deadline, enabled=sorted(options.enabled), include_facts=options.include_facts,
                   host_key_checking=connection.host_key_checking, known_hosts_file=connection.known_hosts_file)

    def run_options(self) -> RunOptions:
        return RunOptions(forks=self.forks, connect_timeout=self.connect_timeout, command_timeout=self.command_timeout,
                          host_deadline=self.host_deadline, enabled=set(self.enabled), include_facts=self.include_facts,
                          workers=1)

    def connection(self) -> ConnectionDefaults:
        return ConnectionDefaults(host_key_checking=self.host_key_checking, known_hosts_file=self.known_hosts_file)


class ShardSpec(_Model):
    """The body of one shard task (JSON)."""

    run_id: str
    index: int          # 0-based
    count: int          # shards in the run
    queue: str
    hosts: list[str]
    playbooks: list[PlaybookPin]
    inventory: list[str]
    limit: str | None = None
    options: ShardOptions
    vault_password_files: list[str] = Field(default_factory=list)
    vault_ids: list[str] = Field(default_factory=list)  # LABEL@FILE

    @property
    def label(self) -> str:
        return f"shard {self.index + 1}/{self.count}"


def task_id(run_id: str, index: int) -> str:
    """Shard task ids are derived from the run: readable in Flower, and revocable by the coordinator."""
    return f"auditor-{run_id}-{index:05d}"


def queue_of(host: HostPlan, default: str) -> str:
    """The host's ``auditor_queue`` variable (usually a group variable: one group per site), else ``default``."""
    value = host.variables.get(QUEUE_VAR)
    if value is None:
        return default
    try:
        return check_queue_name(value, f"host {host.name!r}: {QUEUE_VAR}")
    except Exception as exc:  # noqa: BLE001 - the inventory is at fault: bad input, not usage
        raise BadInputError(str(exc)) from None


def split(hosts: Sequence[HostPlan], size: int, default_queue: str) -> list[tuple[str, list[str]]]:
    """(queue, host names) shards: hosts grouped by queue (first appearance order), each group cut into runs
    of at most ``size`` hosts in plan order, sizes balanced (1,001 hosts at 500: 334, 334, 333)."""
    by_queue: dict[str, list[str]] = {}
    for host in hosts:
        by_queue.setdefault(queue_of(host, default_queue), []).append(host.name)
    out: list[tuple[str, list[str]]] = []
    for queue, names in by_queue.items():
        parts = -(-len(names) // max(1, size))
        base, extra = divmod(len(names), parts)
        start = 0
        for i in range(parts):
            end = start + base + (1 if i < extra else 0)
            out.append((queue, names[start:end]))
            start = end
    return out


def absolute(path: str) -> str:
    """An inventory source or file path as the runners must find it: absolute when it names a file here
    (runners share the layout, e.g. a checkout at the same path); anything else ('h1,h2,') as given."""
    return os.path.abspath(path) if os.path.exists(path) else path


def vault_id_paths(vault_ids: Sequence[str]) -> list[str]:
    """LABEL@FILE with FILE made absolute (prompting ids are refused earlier)."""
    out = []
    for spec in vault_ids:
        label, sep, path = spec.rpartition("@")
        out.append(f"{label}{sep}{absolute(path)}" if sep else absolute(spec))
    return out


def shard_specs(header: RunResult, hosts: Sequence[HostPlan], *, size: int, default_queue: str,
                options: RunOptions, connection: ConnectionDefaults, inventory_sources: Sequence[str],
                vault_password_files: Sequence[str], vault_ids: Sequence[str]) -> list[ShardSpec]:
    parts = split(hosts, size, default_queue)
    pins = [PlaybookPin(path=p.path, file=absolute(p.path), sha256=p.sha256) for p in header.playbooks]
    shard_options = ShardOptions.of(options, connection)
    if shard_options.known_hosts_file:
        shard_options.known_hosts_file = absolute(shard_options.known_hosts_file)
    return [ShardSpec(run_id=header.run_id, index=i, count=len(parts), queue=queue, hosts=names, playbooks=pins,
                      inventory=[absolute(s) for s in inventory_sources], limit=header.limit, options=shard_options,
                      vault_password_files=[absolute(f) for f in vault_password_files],
                      vault_ids=vault_id_paths(vault_ids))
            for i, (queue, names) in enumerate(parts)]
