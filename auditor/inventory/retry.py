"""Retry files: the hosts that failed or were unreachable, one per line, for ``--limit @FILE``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_retry_file(path: str | os.PathLike[str], host_names: list[str]) -> Path | None:
    """Write ``host_names`` (deduplicated, order kept) to ``path`` atomically.

    With no hosts, an existing retry file is removed (a stale one would re-run hosts that are now
    fine) and None is returned. The format is Ansible's: one inventory host name per line.
    """
    target = Path(path)
    names = list(dict.fromkeys(n for n in host_names if n))
    if not names:
        target.unlink(missing_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{n}\n" for n in names))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
