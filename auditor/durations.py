"""Durations as people write them in options and config files: ``90d``, ``12h``, ``30s``, ``1w3d``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_EXAMPLES = "e.g. 30s, 15m, 6h, 90d, 2w, 1w3d"


def parse_duration(value: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``1w3d``... (s, m, h, d, w) -> a timedelta; ValueError when it is not one."""
    text = value.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration ({DURATION_EXAMPLES})")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(amount)})
    return total
