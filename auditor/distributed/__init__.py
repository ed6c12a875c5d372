"""Scale-out on Celery: a coordinator shards a fleet scan over runner machines, results meet in one store.

    auditor worker --broker redis://hub:6379/0 --store postgresql://auditor@db/auditor --queue site-a
    auditor run playbooks/mirrored-mode.yml -i fleet.yml --dispatch celery --broker redis://hub:6379/0 \\
        --store postgresql://auditor@db/auditor

Modules (see docs/scale.md):
- ``config``: URLs and names from options and the environment, the errors (no Celery import);
- ``shards``: what a shard message carries (never a secret) and how hosts are split (no Celery import);
- ``app``: the Celery application, its settings and the broker ping;
- ``tasks``: the worker's side, one shard: plan it, run it, record it into the store, publish progress;
- ``coordinator``: ``auditor run --dispatch celery``: plan, create the run, send, watch, report;
- ``cli``: the ``auditor worker`` command (imports Celery only when it runs).

Nothing here is imported by ``auditor run`` without ``--dispatch``: Celery and redis-py are an extra
(``pip install auditor[distributed]``).
"""
