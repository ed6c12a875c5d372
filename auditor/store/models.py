"""What the store's API returns: typed, JSON-ready records of runs (pydantic)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RunState(str, Enum):
    running = "running"          # its owner is alive and recording hosts
    complete = "complete"        # finished with every planned host recorded
    interrupted = "interrupted"  # stopped (Ctrl-C, SIGTERM) or its owner died (SIGKILL, crash, reboot)
    incomplete = "incomplete"    # finished, but some planned hosts have no result (a lost shard, a store error)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaybookRef(_Model):
    id: str = Field(description="the playbook as the run named it")
    digest: str = Field("", description="sha256 of the playbook file when the run started ('' if unreadable)")


class RunRecord(_Model):
    id: str
    kind: str = Field(description="audit or remediation")
    state: RunState = Field(description="the state as it stands now: a 'running' run whose owner died reads 'interrupted'")
    stored_state: RunState = Field(description="the state as last written by the run's owner")
    live: bool = Field(description="the owner is alive and beating: another process must not resume it")
    playbooks: list[PlaybookRef]
    playbook_set: str = Field(description="sha256 of the sorted playbook ids: runs with the same set are comparable")
    inventory_sources: list[str]
    pattern: str | None = None
    limit: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    auditor_version: str
    result_schema: str
    started: datetime
    finished: datetime | None = None
    hosts_planned: int
    owner_host: str
    owner_pid: int
    heartbeat: datetime


class RunListing(RunRecord):
    """A run with its counts, as ``auditor history list`` shows it."""

    hosts_recorded: int = 0
    by_status: dict[str, int] = Field(default_factory=dict, description="hosts per outcome (ok, failed, unreachable...)")
    by_verdict: dict[str, int] = Field(default_factory=dict, description="hosts per headline verdict ('-' for none)")


class PruneCounts(_Model):
    runs: int = 0
    hosts: int = 0
    checks: int = 0


class TrendPoint(_Model):
    """Verdict and outcome counts of one run, for a chart over the last scans."""

    run_id: str
    started: datetime
    state: RunState
    hosts: int
    by_status: dict[str, int] = Field(default_factory=dict)
    by_verdict: dict[str, int] = Field(default_factory=dict)
