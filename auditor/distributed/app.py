"""The Celery application both sides use: its settings, and a broker ping with a short timeout.

The settings that make a shard survive its worker: ``task_acks_late`` (a shard's message is acknowledged
only when the shard is done) and ``task_reject_on_worker_lost`` (a worker process that dies mid-shard puts
its message back at once). A whole runner that dies (power, SIGKILL of every process) holds its message
unacknowledged; Redis gives it to another worker once ``visibility_timeout`` has passed since delivery
(docs/scale.md). Only JSON crosses the broker (no pickle: a worker never unpickles what it is sent).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Connection

from auditor.distributed.config import BrokerUnreachable, display_url, result_backend_url
from auditor.distributed.config import default_queue

TASK_NAME = "auditor.run_shard"
#: seconds a delivered shard may stay unacknowledged before Redis hands it to another worker
DEFAULT_VISIBILITY_TIMEOUT = 1800.0
PING_TIMEOUT = 3.0


def make_app(broker: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Celery:
    """A Celery app for ``broker`` (results in ``result_backend_url(broker)``)."""
    app = Celery("auditor", broker=broker, backend=result_backend_url(broker), set_as_current=False)
    restore_every = max(1, min(10, int(visibility_timeout // 5)))
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,          # a worker takes one shard per free process, never a backlog
        task_default_queue=default_queue(),
        result_expires=7 * 24 * 3600,
        result_extended=True,                  # shard states name their worker (Flower, `celery inspect`)
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=PING_TIMEOUT,
        redis_socket_connect_timeout=PING_TIMEOUT,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # sweep for messages of dead workers often enough for the timeout to mean what it says
            "unacked_restore_interval": restore_every, "unacked_restore_throttle": 1,
            "socket_connect_timeout": PING_TIMEOUT,
        },
        worker_hijack_root_logger=False,
    )
    return app


def ping(app: Celery, timeout: float = PING_TIMEOUT) -> None:
    """Connect to the broker and the result backend once, within ``timeout`` each; BrokerUnreachable if not."""
    broker = app.conf.broker_url
    try:
        with Connection(broker, connect_timeout=timeout, transport_options={"socket_connect_timeout": timeout,
                                                                             "socket_timeout": timeout}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same one-line error
        raise BrokerUnreachable(f"broker {display_url(broker)} unreachable: {_reason(exc)}; nothing was sent") from None
    backend: Any = app.backend
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "ping"):
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001
            raise BrokerUnreachable(f"result backend {display_url(str(app.conf.result_backend))} unreachable: "
                                    f"{_reason(exc)}; nothing was sent") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300].rstrip(".")
