"""Keeping secrets out of everything auditor prints or writes."""

from __future__ import annotations

import re
from typing import Any

SECRET_VAR = re.compile(r"(pass(word)?|secret|token|private_key(?!_file)|vault|credential|key_pem)", re.IGNORECASE)
MASK = "********"


def is_secret_var(name: str) -> bool:
    return bool(SECRET_VAR.search(name)) and not name.endswith("_file") and not name.endswith("_path")


def public_vars(vars: dict[str, Any]) -> dict[str, Any]:
    """Host/play variables as expressions may see them: secret-looking values masked."""
    return {k: (MASK if is_secret_var(str(k)) and v not in (None, "") else v) for k, v in vars.items()}


def secret_values(vars: dict[str, Any]) -> set[str]:
    """The secret strings in ``vars`` (long enough to be worth scrubbing from free text)."""
    return {str(v) for k, v in vars.items() if is_secret_var(str(k)) and isinstance(v, (str, int)) and len(str(v)) >= 4}


def scrub(value: Any, secrets: set[str]) -> Any:
    """Replace every occurrence of a secret in strings nested anywhere in ``value``."""
    if not secrets:
        return value
    if isinstance(value, str):
        for s in secrets:
            if s in value:
                value = value.replace(s, MASK)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value
