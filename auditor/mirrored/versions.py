"""Version strings -> comparable tuples (WSL '2.0.14.0', Docker Desktop '4.39.0', Engine '27.3.1')."""

from __future__ import annotations

import re
from typing import Any


def vtuple(value: Any, parts: int = 4) -> tuple[int, ...] | None:
    """Leading dotted numbers, padded to ``parts``; None when there is no version in ``value``."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(value or ""))
    if not m:
        return None
    nums = [int(x) for x in m.group(1).split(".")[:parts]]
    return tuple(nums + [0] * (parts - len(nums)))


def older_than(value: Any, minimum: str) -> bool | None:
    """True/False when ``value`` parses, None when it does not."""
    v, m = vtuple(value), vtuple(minimum)
    return None if v is None or m is None else v < m


def same_minor(value: Any, prefix: str) -> bool:
    """'2.9.3.0' matches '2.9'; '4.43.2' matches '4.43'."""
    v, p = vtuple(value), vtuple(prefix)
    n = len(prefix.split("."))
    return v is not None and p is not None and v[:n] == p[:n]
