"""``auditor worker`` and the options ``auditor run`` takes for dispatching. Celery is imported only when a
worker starts (or a run is dispatched): without the ``distributed`` extra the rest of auditor works."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Optional

import typer

from auditor.commands import options as opt
from auditor.distributed.config import BROKER_ENV, DEFAULT_SHARD_SIZE, QUEUE_ENV, QUEUE_VAR
from auditor.errors import UsageError

BROKER_HELP = f"Celery broker URL (redis://HOST:6379/0, amqp://...); default ${BROKER_ENV}."
Dispatch = Annotated[Optional[str], typer.Option(
    "--dispatch", help="Run the hosts on `auditor worker` runners instead of here: celery (needs --broker and a "
                       "store every runner shares; see docs/scale.md).")]
Broker = Annotated[Optional[str], typer.Option("--broker", help=BROKER_HELP)]
ShardSize = Annotated[int, typer.Option("--shard-size", min=1, max=100000,
                                        help="With --dispatch: hosts per shard (one task on one worker).")]


def require_celery() -> None:
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the distributed mode needs Celery and redis-py ({exc.name} is missing): "
                         "pip install 'auditor[distributed]'") from None


def worker_command(
    broker: Broker = None,
    store: opt.Store = None,
    concurrency: int = typer.Option(0, "-c", "--concurrency", min=0, max=256,
                                    help="Shards run at once, one process each; 0 = one per core."),
    queue: list[str] = typer.Option([], "-Q", "--queue",
                                    help=f"Queue to take shards from (repeatable); default ${QUEUE_ENV}, else auditor. "
                                         f"Hosts go to the queue named by their {QUEUE_VAR} variable."),
    visibility_timeout: float = typer.Option(
        1800.0, "--visibility-timeout", min=5.0,
        help="Redis: seconds before a shard taken by a runner that died is given to another; a shard running "
             "longer than this is given out twice (harmless: hosts are recorded once)."),
    loglevel: str = typer.Option("info", "--loglevel", help="Celery log level: debug, info, warning, error."),
) -> int:
    """Run shards of dispatched audits (`auditor run --dispatch celery`) as a Celery worker, recording every
    host into the shared store. Stops after the shards in hand on SIGTERM/Ctrl-C (Celery's warm shutdown).

    Exit codes: 0 stopped; 3 broker unreachable; 4 store unusable; 5 usage error.
    """
    require_celery()
    from auditor.distributed import tasks
    from auditor.distributed.app import make_app, ping
    from auditor.distributed.config import check_queue_name, default_queue, resolve_broker_url
    from auditor.store import open_store, resolve_store_url

    broker_url = resolve_broker_url(broker)
    queues = [check_queue_name(q, "--queue") for q in queue] or [default_queue()]
    store_url = resolve_store_url(store)
    if store_url is None:
        raise UsageError("a worker records into the run's store: --store none is not possible")
    open_store(store_url).close()  # unusable: exit 4 now; each pool process opens its own after the fork
    app = make_app(broker_url, visibility_timeout=visibility_timeout)
    ping(app)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # a line per connection would drown the shards' log
    tasks.configure(store_url)
    tasks.register(app)
    app.worker_main([
        "worker", f"--concurrency={concurrency or os.cpu_count() or 1}", f"--queues={','.join(queues)}",
        f"--loglevel={loglevel}", f"--hostname=auditor-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
    ])
    return 0


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)


__all__ = ["Broker", "DEFAULT_SHARD_SIZE", "Dispatch", "ShardSize", "register", "require_celery", "worker_command"]
