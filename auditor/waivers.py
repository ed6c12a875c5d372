"""Waivers: known exceptions to checks, with a reason and an optional end date (InSpec's waiver file format).

    W-CFG-02:                                  # a check id, or a stable key <playbook>/<play>/<check id>
      justification: "Hyper-V lab machines need mirrored mode. @secteam"   # required
      expiration_date: 2027-03-31              # optional, YYYY-MM-DD: expired from 00:00 local time that day
      run: true                                # optional: false skips the check while the waiver is active
      hosts: "lab:!lab-gpu01"                  # optional (auditor): an Ansible host pattern, default all
      approver: "J. Smith"                     # optional (auditor): who signed it off

The file is YAML (JSON is YAML too). It is validated strictly before anything connects: a mistake is
one ``BadInputError`` (exit 4) at ``file:line:col``. ``decide()`` is the pure function the runner and
the reports ask: for a host and a check, is a waiver active, expired ("waiver expired on DATE"), or
absent, and should the check run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from auditor.errors import BadInputError, Location
from auditor.inventory.model import Inventory
from auditor.inventory.patterns import PatternError, select_hosts
from auditor.playbook.yamlpos import PositionedYAML, read_positioned_file, validation_error
from auditor.results import CheckResult, CheckStatus, HostStatus, RunResult, WaiverInForce, WaiverNote

MAX_WAIVER_FILE_BYTES = 4 * 1024 * 1024
EXPIRING_DAYS = 14
_YES_NO = {"yes": True, "true": True, "no": False, "false": False}


def _yes_no(value: Any) -> Any:
    """InSpec's ``run``: true, false, yes or no (YAML 1.1 reads unquoted yes/no as booleans already)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES_NO:
        return _YES_NO[value.strip().lower()]
    raise ValueError("expected true, false, yes or no")


def _iso_date(value: Any) -> Any:
    """A calendar date written YYYY-MM-DD (unquoted in YAML, or a JSON string); no times, no other forms."""
    if isinstance(value, datetime):
        raise ValueError("expected a date YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD, found {value!r}")


def _pattern_text(value: Any) -> Any:
    """``hosts`` as Ansible writes it: a pattern string, or a list of patterns (joined with ',')."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return value


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    justification: str = Field(description="why the check is waived; may name who signed it off")
    expiration_date: Annotated[date | None, BeforeValidator(_iso_date)] = Field(
        None, description="the waiver no longer applies from 00:00 local time on this day; none: permanent")
    run: Annotated[bool, BeforeValidator(_yes_no)] = Field(
        True, description="false: the check is skipped while the waiver is active")
    hosts: Annotated[str, BeforeValidator(_pattern_text)] = Field(
        "all", description="Ansible host pattern (or list of patterns) the waiver applies to")
    approver: str | None = None

    @field_validator("justification")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: say why the check is waived")
        return value.strip()

    @field_validator("hosts")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (omit it for all hosts)")
        try:
            select_hosts(Inventory(), value)  # compiles every term: a broken regex fails here, not later
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()


_FILE = TypeAdapter(dict[str, Waiver])


@dataclass
class WaiverFile:
    path: str
    waivers: dict[str, Waiver]                               # check id or key -> waiver, in file order
    locations: dict[str, Location] = field(default_factory=dict)  # check id or key -> where its 'hosts' is


def load_waivers(path: str | Path) -> WaiverFile:
    """Read and validate a waiver file; every problem is a BadInputError at file:line:col."""
    doc = read_positioned_file(path, "waiver file", MAX_WAIVER_FILE_BYTES)
    if doc.data is None:
        raise BadInputError("expected a mapping of check ids to waivers, the file is empty", doc.location(()))
    if not isinstance(doc.data, dict):
        raise BadInputError(f"expected a mapping of check ids to waivers at the top level, found a "
                            f"{type(doc.data).__name__}", doc.location(()))
    for key in doc.data:
        if isinstance(key, str) and not key.strip():
            raise BadInputError("empty check id", doc.location((key,), prefer_key=True))
    try:
        waivers = _FILE.validate_python(doc.data)
    except ValidationError as exc:
        raise _error(exc, doc) from None
    return WaiverFile(str(path), waivers, {k: doc.location((k, "hosts")) for k in waivers})


def _error(exc: ValidationError, doc: PositionedYAML) -> BadInputError:
    err = exc.errors()[0]
    if err["loc"][-1:] == ("[key]",):
        return BadInputError("a check id must be a string (quote it)", doc.location(tuple(err["loc"][:-1]), prefer_key=True))
    if len(err["loc"]) == 1 and err["type"] in ("model_type", "dict_type"):
        return BadInputError(f"{err['loc'][0]!r}: expected a mapping with 'justification' (and optionally "
                             "expiration_date, run, hosts, approver)", doc.location(tuple(err["loc"])))
    return validation_error(exc, doc)


class WaiverState(str, Enum):
    active = "active"
    expired = "expired"
    none = "none"


@dataclass(frozen=True)
class WaiverDecision:
    state: WaiverState
    check: str | None = None            # the waiver's check id or key as written in the file
    waiver: Waiver | None = None

    @property
    def should_run(self) -> bool:
        """False only while an active waiver says ``run: false``."""
        return not (self.state is WaiverState.active and self.waiver is not None and not self.waiver.run)

    @property
    def message(self) -> str:
        if self.waiver is None:
            return ""
        if self.state is WaiverState.expired:
            return f"waiver expired on {self.waiver.expiration_date}"
        until = f" (until {self.waiver.expiration_date})" if self.waiver.expiration_date else ""
        return f"waived{until}: {self.waiver.justification}"


@dataclass
class BoundWaivers:
    """A waiver file with each waiver's ``hosts`` pattern resolved to host names (None: every host)."""

    file: WaiverFile
    hosts: dict[str, frozenset[str] | None]


def bind(waivers: WaiverFile, inventory: Inventory) -> BoundWaivers:
    """Resolve each waiver's host pattern against the run's inventory (before anything connects)."""
    resolved: dict[str, frozenset[str] | None] = {}
    for check, waiver in waivers.waivers.items():
        if waiver.hosts in ("all", "*"):
            resolved[check] = None
            continue
        try:
            resolved[check] = frozenset(h.name for h in select_hosts(inventory, waiver.hosts))
        except PatternError as exc:
            raise BadInputError(f"'hosts': {exc}", waivers.locations.get(check)) from None
    return BoundWaivers(waivers, resolved)


def bind_hosts(waivers: WaiverFile, hosts: Iterable[tuple[str, Sequence[str]]]) -> BoundWaivers:
    """Bind against hosts known only by name and groups (a stored run or a saved report, no inventory)."""
    inventory = Inventory()
    for name, groups in hosts:
        for group in groups:
            inventory.add_group(group)
            inventory.add_host(name, group)
        if not groups:
            inventory.add_host(name, "ungrouped")
    return bind(waivers, inventory)


def decide(bound: BoundWaivers, host: str, check_id: str, key: str | None, *, today: date) -> WaiverDecision:
    """The waiver state of one check on one host on ``today`` (the local date). A waiver written for the
    check's stable key is preferred to one written for its id; an active waiver wins over an expired one."""
    expired: WaiverDecision | None = None
    for name in (key, check_id):
        if name is None or name not in bound.file.waivers:
            continue
        scope = bound.hosts.get(name)
        if scope is not None and host not in scope:
            continue
        waiver = bound.file.waivers[name]
        if waiver.expiration_date is not None and today >= waiver.expiration_date:
            expired = expired or WaiverDecision(WaiverState.expired, name, waiver)
            continue
        return WaiverDecision(WaiverState.active, name, waiver)
    return expired or WaiverDecision(WaiverState.none)


class WaiverListing(BaseModel):
    """One waiver as the reports list it."""

    model_config = ConfigDict(extra="forbid")

    check: str
    hosts: str
    justification: str
    approver: str | None = None
    run: bool
    expiration_date: date | None = None
    days_left: int | None = Field(None, description="days until it expires; None: permanent")


def waivers_in_force(waivers: WaiverFile, *, today: date) -> list[WaiverListing]:
    """Waivers not expired on ``today``, soonest to expire first, permanent ones last."""
    out = [_listing(check, w, today) for check, w in waivers.waivers.items()
           if w.expiration_date is None or today < w.expiration_date]
    return sorted(out, key=lambda x: (x.days_left is None, x.days_left or 0, x.check))


def waivers_expiring(waivers: WaiverFile, *, today: date, within_days: int = EXPIRING_DAYS) -> list[WaiverListing]:
    """Waivers in force that expire within ``within_days`` days of ``today``."""
    horizon = today + timedelta(days=within_days)
    return [w for w in waivers_in_force(waivers, today=today)
            if w.expiration_date is not None and w.expiration_date <= horizon]


def _listing(check: str, waiver: Waiver, today: date) -> WaiverListing:
    days = (waiver.expiration_date - today).days if waiver.expiration_date else None
    return WaiverListing(check=check, hosts=waiver.hosts, justification=waiver.justification, approver=waiver.approver,
                         run=waiver.run, expiration_date=waiver.expiration_date, days_left=days)


class WaiverHook:
    """The runner's check hook for a waiver file (picklable: worker processes get it as it is).

    Active waiver: the check becomes ``waived`` (``run: false``: ``skipped``), its own result kept in
    ``CheckResult.waiver``. Expired waiver: the result stands and carries "waiver expired on DATE".
    """

    def __init__(self, bound: BoundWaivers, today: date):
        self.bound = bound
        self.today = today

    def __call__(self, plan: Any, check: CheckResult) -> CheckResult:
        decision = decide(self.bound, plan.name, check.id, check.key or None, today=self.today)
        if decision.waiver is None:
            return check
        w = decision.waiver
        note = WaiverNote(state="active" if decision.state is WaiverState.active else "expired", status=check.status,
                          justification=w.justification, expiration_date=w.expiration_date, approver=w.approver,
                          message=decision.message)
        if decision.state is WaiverState.expired:
            return check.model_copy(update={"waiver": note})
        status = CheckStatus.waived if decision.should_run else CheckStatus.skipped
        message = decision.message if decision.should_run else f"not run: {decision.message}"
        return check.model_copy(update={"status": status, "message": message, "waiver": note})


def in_force_records(waivers: WaiverFile, *, today: date) -> list[WaiverInForce]:
    """The waivers in force on ``today`` as the run records them (expiring within 14 days flagged)."""
    soon = {(w.check, w.hosts) for w in waivers_expiring(waivers, today=today)}
    return [WaiverInForce(check=w.check, hosts=w.hosts, justification=w.justification,
                          expiration_date=w.expiration_date, approver=w.approver,
                          expiring_soon=(w.check, w.hosts) in soon)
            for w in waivers_in_force(waivers, today=today)]


@dataclass(frozen=True)
class _Named:
    name: str


def apply_to_run(run: RunResult, waivers: WaiverFile, *, today: date) -> RunResult:
    """Waivers applied to a finished run (``auditor report --waiver-file``): each check as the hook would have
    left it, hosts that no longer need action counted ok, and the waivers in force listed."""
    from auditor.outcomes import needs_action

    hook = WaiverHook(bind_hosts(waivers, [(h.name, h.groups) for h in run.hosts]), today)
    hosts = []
    for host in run.hosts:
        plays = [p.model_copy(update={"checks": [hook(_Named(host.name), c) for c in p.checks]}) for p in host.plays]
        host = host.model_copy(update={"plays": plays})
        if host.status in (HostStatus.ok, HostStatus.failed):
            host.status = HostStatus.failed if needs_action(host, run.verdict_catalogue) else HostStatus.ok
        hosts.append(host)
    out = run.model_copy(update={"hosts": hosts, "waivers": in_force_records(waivers, today=today)})
    out.compute_summary()
    return out
