"""The ``notify:`` list of a schedule: where notifications go, which transitions each receiver wants, and how
hard to try. Validated strictly (``extra="forbid"``); a secret never sits in the config itself: a webhook's
URL (which often carries its token) and its secret headers can come from files, a mail password only does.

    notify:
      - webhook:
          url_file: /etc/auditor/slack-hook.url        # or url: https://hooks.example/...
          format: slack                                # json (default) | slack | teams
          header_files: {Authorization: /etc/auditor/hook.auth}
          timeout: 10s
      - email:
          smtp_host: smtp.corp.example
          username: auditor
          password_file: /etc/auditor/smtp.pass
          from: auditor@corp.example
          to: [it-ops@corp.example]
          events: [regressed, unreachable, waiver_expiring]

See docs/notify.md for every key.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from auditor.secrets import is_secret_name

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")   # an HTTP token (RFC 9110)
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")        # a bare mail address, no display name


class EventKind(str, Enum):
    """What a notification can be about (docs/notify.md, "What triggers a notification")."""

    regressed = "regressed"              # a host's verdict got worse, or a check newly fails
    fixed = "fixed"                      # a host's verdict got better, or its failing checks pass
    unreachable = "unreachable"          # a host that was reached last scan could not be reached
    reachable = "reachable"              # a host that could not be reached last scan was reached again
    new = "new"                          # a host in this scan that the previous one did not have (opt-in)
    gone = "gone"                        # a host of the previous scan missing from this one (opt-in)
    waiver_expiring = "waiver_expiring"  # a waiver in force expires within the window (default 14 days)


DEFAULT_EVENTS: tuple[EventKind, ...] = (EventKind.regressed, EventKind.fixed, EventKind.unreachable,
                                         EventKind.reachable, EventKind.waiver_expiring)


def parse_seconds(value: Any) -> Any:
    """``10s``, ``1m30s``, ``250ms``, ``1h``, or a plain number of seconds -> seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 1m or 250ms")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if parts and not _DURATION.sub("", text).strip():
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    raise ValueError(f"expected a duration such as 10s, 1m or 250ms, found {value!r}")


Seconds = Annotated[float, BeforeValidator(parse_seconds)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetryPolicy(_Model):
    """Bounded exponential backoff: the waits between tries are backoff, backoff*factor, ... (each at most
    backoff_max); a receiver's ``Retry-After`` is honoured up to backoff_max."""

    attempts: int = Field(default=4, ge=1, le=10, description="tries in all, the first included")
    backoff: Seconds = Field(default=2.0, ge=0, le=3600, description="wait before the second try")
    factor: float = Field(default=2.0, ge=1, le=10, description="each further wait is the previous one times this")
    backoff_max: Seconds = Field(default=60.0, ge=0, le=3600, description="no wait is longer than this")

    def delays(self) -> list[float]:
        """The waits between tries (``attempts - 1`` of them)."""
        return [min(self.backoff * self.factor ** i, self.backoff_max) for i in range(self.attempts - 1)]


class _Receiver(_Model):
    name: str | None = Field(default=None, max_length=80, description="shown in logs and the delivery report")
    events: list[EventKind] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1,
                                description="the transitions this receiver is told about")
    retry: RetryPolicy = Field(default_factory=lambda: RetryPolicy())
    per_event: bool = Field(default=False, description="one message per event instead of one per scan "
                            "(at most 50 per scan; past that, one message for the scan)")
    verify_tls: bool = Field(default=True, description="validate the server's certificate (https, STARTTLS, TLS)")
    ca_file: Path | None = Field(default=None, description="PEM bundle of CAs to trust instead of the system's")

    def wants(self, kind: EventKind) -> bool:
        return kind in self.events


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials in it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # a bad port raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not allowed: use header_files (e.g. Authorization)")
    if any(c in url for c in "\r\n\t ") or port == 0:
        raise ValueError("not a valid URL")
    return url.strip()


class WebhookSettings(_Receiver):
    url: str | None = Field(default=None, description="http:// or https:// URL (one of url and url_file)")
    url_file: Path | None = Field(default=None, description="a file holding the URL, for URLs that carry a token")
    format: Literal["json", "slack", "teams"] = Field(default="json", description="json: the generic body; slack, teams: {\"text\": ...}")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers (no secrets: see header_files)")
    header_files: dict[str, Path] = Field(default_factory=dict, description="headers whose value is read from a file")
    timeout: Seconds = Field(default=10.0, gt=0, le=300, description="per try, for each of connecting, sending and waiting for the answer")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            _check_header_name(name)
            if is_secret_name(name):
                raise ValueError(f"header {name!r} holds a secret: put its value in a file and name it in header_files")
            if any(c in text for c in "\r\n\x00"):
                raise ValueError(f"header {name!r}: line breaks are not allowed in a value")
        return value

    @field_validator("header_files")
    @classmethod
    def _header_files(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name in value:
            _check_header_name(name)
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSettings:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        clash = {n.lower() for n in self.headers} & {n.lower() for n in self.header_files}
        if clash:
            raise ValueError(f"header {sorted(clash)[0]!r} is in both headers and header_files")
        return self


def _check_header_name(name: str) -> None:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid header name")


class EmailSettings(_Receiver):
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="upgrade the connection with STARTTLS (required when it is on)")
    tls: bool = Field(default=False, description="implicit TLS from the first byte (port 465); excludes starttls")
    username: str | None = None
    password_file: Path | None = Field(default=None, description="a file holding the SMTP password (never inline)")
    sender: str = Field(alias="from", description="the From address")
    to: list[str] = Field(min_length=1, max_length=100)
    subject_prefix: str = Field(default="[auditor]", max_length=60)
    timeout: Seconds = Field(default=30.0, gt=0, le=300, description="per try: the SMTP conversation's socket timeout")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("'password' is not allowed inline: put it in a file and name it in password_file")
        return data

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("smtp_host", "subject_prefix", "username")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(c in value for c in "\r\n\x00"):
            raise ValueError("line breaks are not allowed")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EmailSettings:
        if self.tls and self.starttls:
            raise ValueError("tls (implicit TLS) and starttls exclude each other: set starttls: false with tls: true")
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together")
        if self.username is not None and not (self.tls or self.starttls):
            raise ValueError("a password is never sent in clear: keep starttls (or tls) on with username")
        return self


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a mail address (user@domain)")
    return value


class NotifyTarget(_Model):
    """One entry of a schedule's ``notify:`` list: exactly one of ``webhook`` and ``email``."""

    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> NotifyTarget:
        if (self.webhook is None) == (self.email is None):
            raise ValueError("each notify entry is exactly one of 'webhook' or 'email'")
        return self

    @property
    def receiver(self) -> WebhookSettings | EmailSettings:
        found = self.webhook or self.email
        assert found is not None
        return found

    @property
    def label(self) -> str:
        """How logs and reports name this receiver: its name, or the kind and host (never a URL's path)."""
        if self.receiver.name:
            return self.receiver.name
        if self.webhook is not None:
            return f"webhook {url_host(self.webhook.url) if self.webhook.url else self.webhook.url_file}"
        assert self.email is not None
        return f"email {self.email.smtp_host}:{self.email.smtp_port}"


#: What a schedule's ``notify:`` holds; embed as ``notify: NotifyTargets = []`` in a config model.
NotifyTargets = list[NotifyTarget]
NOTIFY_TARGETS: TypeAdapter[list[NotifyTarget]] = TypeAdapter(NotifyTargets)


def url_host(url: str) -> str:
    """The host (and port) of a URL: all of it that logs may show (a path or query may carry a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"
