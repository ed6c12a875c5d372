"""Names, URLs and errors of the distributed mode, from options and the environment (no Celery import here)."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from auditor.errors import AuditorError, ExitCode, UsageError

BROKER_ENV = "AUDITOR_BROKER"
RESULT_BACKEND_ENV = "AUDITOR_RESULT_BACKEND"
QUEUE_ENV = "AUDITOR_QUEUE"
DEFAULT_QUEUE = "auditor"
#: the host variable (set it on a group to map a site's hosts) naming the queue a host's shard goes to
QUEUE_VAR = "auditor_queue"
DEFAULT_SHARD_SIZE = 250
DISPATCHERS = ("celery",)

_REDIS_SCHEMES = ("redis", "rediss")
_BROKER_SCHEMES = (*_REDIS_SCHEMES, "amqp", "amqps", "pyamqp")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


class BrokerUnreachable(AuditorError):
    """The broker (or the result backend) does not answer: nothing was sent. Exit 3, as for hosts that
    cannot be reached: a script that retries later on 3 does the right thing."""

    exit_code = ExitCode.HOSTS_UNREACHABLE


class ShardError(RuntimeError):
    """A shard could not be run on a worker (its message is one line, never a secret); Celery retries it."""


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_broker_url(option: str | None) -> str:
    """``--broker``, else $AUDITOR_BROKER; a missing or unusable URL is a usage error (exit 5)."""
    url = option or os.environ.get(BROKER_ENV) or ""
    if not url:
        raise UsageError(f"no broker: give --broker URL or set {BROKER_ENV} (e.g. redis://runner-hub:6379/0)")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _BROKER_SCHEMES:
        raise UsageError(f"--broker {display_url(url)!r}: expected a redis://, rediss:// or amqp:// URL")
    return url


def result_backend_url(broker: str) -> str:
    """Where shard states and progress go: $AUDITOR_RESULT_BACKEND, else the broker itself when it is Redis.
    It must be a key-value backend (Redis): workers count a shard's deliveries there."""
    url = os.environ.get(RESULT_BACKEND_ENV) or ""
    if not url:
        if broker.split("://", 1)[0].lower() in _REDIS_SCHEMES:
            return broker
        raise UsageError(f"a broker that is not Redis needs a result backend: set {RESULT_BACKEND_ENV} "
                         "(e.g. redis://runner-hub:6379/1)")
    if url.split("://", 1)[0].lower() not in _REDIS_SCHEMES:
        raise UsageError(f"{RESULT_BACKEND_ENV} {display_url(url)!r}: expected a redis:// or rediss:// URL")
    return url


def default_queue() -> str:
    """The queue of hosts without ``auditor_queue``, and what a worker consumes without --queue."""
    return check_queue_name(os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE, QUEUE_ENV)


def check_queue_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise UsageError(f"{where}: {name!r} is not a queue name (letters, digits, '.', '_', ':', '-')")
    return name


def check_dispatch(dispatch: str, ask_vault_pass: bool, vault_ids: list[str] | None) -> None:
    """What must hold before anything is loaded: a known dispatcher, and vault secrets the runners can open
    themselves (they cannot prompt, and no password is ever sent to them)."""
    if dispatch not in DISPATCHERS:
        raise UsageError(f"--dispatch: expected {' or '.join(DISPATCHERS)}, not {dispatch!r}")
    if ask_vault_pass or any(v.endswith("@prompt") for v in vault_ids or []):
        raise UsageError("--dispatch celery: runners cannot prompt for a vault password and none is ever sent to "
                         "them; use --vault-password-file or --vault-id LABEL@FILE with a file every runner has")
