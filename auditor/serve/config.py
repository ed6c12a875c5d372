"""``serve.yml``: where the history lives, where the dashboard listens, who may read it, and the schedules.

Validated with pydantic; every problem is a BadInputError at ``file:line:col`` (exit code 4). Relative paths
(playbooks, inventories, waiver files, report folders, the token file) are relative to the config file's folder,
so a config works from wherever ``auditor serve`` is started.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Optional

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.durations import parse_duration
from auditor.errors import BadInputError, Location
from auditor.notify import NotifyTarget, NotifyTargets
from auditor.playbook.yamlpos import PositionedYAML, read_positioned_file, validation_error
from auditor.report.writers import available_formats

MAX_CONFIG_BYTES = 1024 * 1024
DEFAULT_LISTEN = "127.0.0.1:8765"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _str_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Schedule(_Model):
    """One scheduled scan: what ``auditor run`` would be given, and when."""

    name: str = Field(description="unique; letters, digits, '_', '.', '-' (used in URLs, metrics and unit names)")
    playbooks: list[str] = Field(min_length=1)
    inventory: list[str] = Field(min_length=1, description="inventory sources, as -i takes them")
    limit: Optional[str] = None
    enable: list[str] = Field(default_factory=list, description="opt-in checks (user-context, probe)")
    waiver_file: Optional[str] = None
    report: list[str] = Field(default_factory=lambda: ["json", "html"])
    output: Optional[str] = Field(None, description="report folder; default reports/<name> next to the config")
    cron: Optional[str] = Field(None, description="5 fields: minute hour day-of-month month day-of-week")
    timezone: str = Field("UTC", description="IANA name the cron fields are read in (e.g. Europe/Berlin)")
    every: Optional[str] = Field(None, description="an interval: 30s, 15m, 6h, 1d")
    jitter: Optional[str] = Field(None, description="start up to this much later, at random (spreads load)")
    forks: int = Field(100, ge=1, le=5000)
    host_key_checking: Optional[Literal["strict", "accept-new", "off"]] = None
    known_hosts: Optional[str] = None
    notify: NotifyTargets = Field(default_factory=list, description="where transitions are sent (docs/notify.md)")

    _norm_playbooks = field_validator("playbooks", "inventory", "enable", "report", mode="before")(_str_list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("expected letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit)")
        return value

    @field_validator("report")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in available_formats()]
        if unknown:
            raise ValueError(f"unknown report format {unknown[0]!r} (expected {', '.join(available_formats())})")
        return value

    @field_validator("every", "jitter")
    @classmethod
    def _duration(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            if parse_duration(str(value)) <= timedelta(0):
                raise ValueError("expected a positive duration")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. UTC, Europe/Berlin, America/New_York)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            if len(value.split()) != 5:
                raise ValueError("expected 5 fields: minute hour day-of-month month day-of-week (e.g. '0 7 * * 1-5')")
            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"not a valid cron expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> "Schedule":
        if (self.cron is None) == (self.every is None):
            raise ValueError("give either 'cron' or 'every' (exactly one)")
        return self

    @property
    def interval(self) -> Optional[timedelta]:
        return parse_duration(self.every) if self.every is not None else None

    @property
    def jitter_seconds(self) -> Optional[int]:
        return int(parse_duration(self.jitter).total_seconds()) if self.jitter is not None else None


class ServeConfig(_Model):
    store: Optional[str] = Field(None, description="history store URL; default: the one `auditor run` uses")
    listen: str = DEFAULT_LISTEN
    token_file: Optional[str] = Field(None, description="file holding the API/dashboard token; required unless "
                                                        "listening on loopback only")
    state_dir: Optional[str] = Field(None, description="where the server keeps its scan log and notification state; "
                                                       "default .auditor-serve next to the config")
    waiver_warning_days: int = Field(14, ge=0, le=365, description="waivers expiring within this many days are listed")
    schedules: list[Schedule] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host_port(value)
        return value

    @model_validator(mode="after")
    def _unique(self) -> "ServeConfig":
        seen: set[str] = set()
        for s in self.schedules:
            if s.name in seen:
                raise ValueError(f"two schedules are named {s.name!r}")
            seen.add(s.name)
        return self

    @property
    def loopback_only(self) -> bool:
        host = host_port(self.listen)[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def schedule(self, name: str) -> Schedule:
        for s in self.schedules:
            if s.name == name:
                return s
        raise KeyError(name)


def host_port(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) -> (host, port); ValueError otherwise."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", listen.strip())
    if not match:
        raise ValueError(f"expected HOST:PORT (e.g. {DEFAULT_LISTEN}), found {listen!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host, port


class LoadedConfig:
    """A validated config with its relative paths made absolute, and the token read (never logged)."""

    def __init__(self, config: ServeConfig, path: Path, token: Optional[str]):
        self.config = config
        self.path = path
        self.base = path.parent
        self.token = token

    def resolve(self, value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.base / p))

    @property
    def state_dir(self) -> Path:
        return Path(self.resolve(self.config.state_dir)) if self.config.state_dir else self.base / ".auditor-serve"

    def notify_targets(self, schedule: Schedule) -> list[NotifyTarget]:
        """The schedule's receivers with their files (url_file, header_files, password_file, ca_file) resolved
        against the config's folder, like every other path in the config."""
        def fix(settings: Any) -> Any:
            if settings is None:
                return None
            update: dict[str, Any] = {}
            for name in ("url_file", "password_file", "ca_file"):
                value = getattr(settings, name, None)
                if value is not None:
                    update[name] = Path(self.resolve(str(value)))
            if getattr(settings, "header_files", None):
                update["header_files"] = {k: Path(self.resolve(str(v))) for k, v in settings.header_files.items()}
            return settings.model_copy(update=update)

        return [t.model_copy(update={"webhook": fix(t.webhook), "email": fix(t.email)}) for t in schedule.notify]

    def output_of(self, schedule: Schedule) -> Path:
        return Path(self.resolve(schedule.output)) if schedule.output else self.base / "reports" / schedule.name


def load_serve_config(path: str | Path) -> LoadedConfig:
    """Read and validate ``serve.yml``; every problem is a BadInputError at file:line:col."""
    doc = read_positioned_file(path, "serve config", MAX_CONFIG_BYTES)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise BadInputError(f"expected a mapping (store, listen, token_file, schedules) at the top level, found a "
                            f"{type(doc.data).__name__}", doc.location(()))
    try:
        config = ServeConfig.model_validate(doc.data)
    except ValidationError as exc:
        raise _error(exc, doc) from None
    loaded = LoadedConfig(config, Path(path).resolve(), None)
    if config.token_file is not None:
        loaded.token = _read_token(loaded.resolve(config.token_file), doc.location(("token_file",)))
    elif not config.loopback_only:
        raise BadInputError(f"listening on {config.listen} (not loopback only) needs 'token_file': anyone on the "
                            "network could read the fleet's findings and start scans", doc.location(("listen",)))
    return loaded


def _error(exc: ValidationError, doc: PositionedYAML) -> BadInputError:
    err = exc.errors()[0]
    if err["type"] == "value_error" and len(err["loc"]) <= 2 and err["loc"][:1] == ("schedules",):
        # a model-level rule of one schedule (cron or every; duplicate names): point at the schedule
        return BadInputError(f"schedule: {err['msg'].removeprefix('Value error, ')}", doc.location(tuple(err["loc"])))
    if err["type"] == "value_error" and not err["loc"]:
        return BadInputError(err["msg"].removeprefix("Value error, "), doc.location(("schedules",)))
    return validation_error(exc, doc)


def _read_token(path: str, where: Location) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BadInputError(f"cannot read the token file {path}: {exc.strerror or exc}", where) from None
    if len(token) < 16:
        raise BadInputError(f"the token in {path} is shorter than 16 characters: use a long random one "
                            "(e.g. `openssl rand -hex 32 > token`)", where)
    return token
