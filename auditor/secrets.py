"""Secrets: the one definition of what is secret, a value type that never prints, and a process-local store.

- ``is_secret_name`` decides, for every layer (expression variables, report scrubbing, the store), whether a
  variable or mapping key names a secret: ``password``, ``api_key``, ``X-Auth-Token``, ``ssh_pass``,
  ``passphrase``, ``private_key``... but not ``private_key_file`` (a path, as in Ansible).
- ``Secret`` holds a decrypted value for the transports. Its ``repr``/``str`` are masked and it pickles as an
  opaque id: the value stays in this process's store (``_VALUES``). A forked worker inherits the store; a
  spawned process gets the values it needs explicitly (``export_values`` / ``import_values``) or loads the
  inventory itself (Celery workers). So a plan, which holds only ``Secret`` objects, pickles without a secret.
- ``secret_values`` collects every secret string a host's variables hold (nested dicts, vaulted values of
  any name) so free text can be scrubbed of them.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets as _random
from typing import Any, Iterable

from auditor.errors import AuditorError

MASK = "********"
#: Shorter secrets are not scrubbed from free text: replacing every "abc" in a report would mangle it.
MIN_SCRUB_LENGTH = 4

# Parts are looked for in the key's words joined lowercase, so "API-Key", "api_key" and "apiKey" all match;
# exact words match whole words only ("pass" in "ssh_pass", not in "passed").
_SECRET_KEY_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "accesskey", "keypem",
    "sshkey", "keymaterial", "credential", "authorization", "cookie", "sessionid", "bearer", "vault",
)
_SECRET_KEY_EXACT = frozenset({"pwd", "pass", "psk", "otp", "pin"})
# a name ending in one of these holds where a secret is, not the secret (ansible_ssh_private_key_file)
_REFERENCE_SUFFIX = frozenset({"file", "path", "dir", "directory", "location", "id", "ids"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when a variable or mapping key names a secret value."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or words[-1] in _REFERENCE_SUFFIX:
        return False
    joined = "".join(words)
    return any(w in _SECRET_KEY_EXACT for w in words) or any(part in joined for part in _SECRET_KEY_PARTS)


class SecretUnavailable(AuditorError):
    """A ``Secret`` was used in a process that was never given its value."""


_VALUES: dict[str, str] = {}
# ids unique across the processes of a run (a forked worker's new secrets must not collide with the parent's)
_PREFIX = _random.token_hex(6)
_COUNTER = itertools.count(1)


def _from_id(secret_id: str) -> "Secret":
    obj = Secret.__new__(Secret)
    obj._id = secret_id
    return obj


class Secret:
    """A secret string: masked when printed, pickled as an id (see the module docstring)."""

    __slots__ = ("_id",)

    def __init__(self, value: str):
        self._id = f"{_PREFIX}-{next(_COUNTER)}"
        _VALUES[self._id] = value

    def reveal(self) -> str:
        try:
            return _VALUES[self._id]
        except KeyError:
            raise SecretUnavailable("a secret of the inventory is not loaded in this process "
                                    "(load the inventory and vault here, or pass the values explicitly)") from None

    @property
    def id(self) -> str:
        return self._id

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_from_id, (self._id,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (other._id == self._id or _VALUES.get(other._id) == _VALUES.get(self._id))

    def __hash__(self) -> int:
        return hash(self._id)


def reveal(secret: Secret | None) -> str | None:
    return None if secret is None else secret.reveal()


def export_values(secrets: Iterable[Secret]) -> dict[str, str]:
    """The values behind ``secrets``, for handing to a spawned process over its own pipe (never in a plan)."""
    return {s.id: _VALUES[s.id] for s in secrets if s.id in _VALUES}


def import_values(values: dict[str, str]) -> None:
    _VALUES.update(values)


def _plain(value: Any) -> str | None:
    """A secret-bearing leaf as text: decrypted vault values, Secrets, strings and numbers."""
    from auditor.inventory.vault import VaultedValue, VaultError

    if isinstance(value, VaultedValue):
        try:
            return value.decrypt()
        except VaultError:
            return None
    if isinstance(value, Secret):
        try:
            return value.reveal()
        except SecretUnavailable:
            return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    return None


def secret_values(variables: dict[str, Any]) -> set[str]:
    """Every secret string in ``variables``: values under secret names at any depth, and every vaulted value."""
    from auditor.inventory.vault import VaultedValue

    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, secret or (isinstance(key, str) and is_secret_name(key)))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, secret)
        elif secret or isinstance(value, (VaultedValue, Secret)):
            text = _plain(value)
            if text is not None and len(text) >= MIN_SCRUB_LENGTH:
                found.add(text)

    for key, value in variables.items():  # most variables are plain values under ordinary names: no call for them
        if type(value) in _SCALARS and not (isinstance(key, str) and is_secret_name(key)):
            continue
        walk(value, isinstance(key, str) and is_secret_name(key))
    return found


def plain_vars(variables: dict[str, Any]) -> bool:
    """True when no variable is secret-named or holds more than a plain scalar: ``public_vars`` gives the same
    values back and ``secret_values`` finds nothing (most of a host's own variables: address, port, labels)."""
    return all(type(v) in _SCALARS and not (isinstance(k, str) and is_secret_name(k)) for k, v in variables.items())


def scrub_text(value: Any, secrets: set[str]) -> Any:
    """Replace every occurrence of a secret in the strings nested anywhere in ``value`` (a copy)."""
    if not secrets:
        return value
    if isinstance(value, str):
        for s in secrets:
            if s in value:
                value = value.replace(s, MASK)
        return value
    if isinstance(value, dict):
        return {k: scrub_text(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_text(v, secrets) for v in value]
    return value


def public_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """Variables as playbook expressions may see them: secret-named and vaulted values masked, at any depth."""
    from auditor.inventory.vault import VaultedValue

    def mask(key: Any, value: Any) -> Any:
        if isinstance(value, (VaultedValue, Secret)):
            return MASK
        if isinstance(key, str) and is_secret_name(key) and value not in (None, "") and not isinstance(value, (dict, list)):
            return MASK
        if isinstance(value, dict):
            return {k: mask(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(key, v) for v in value]
        return value

    return {k: v if type(v) in _SCALARS and not (isinstance(k, str) and is_secret_name(k)) else mask(k, v)
            for k, v in variables.items()}


_SCALARS = frozenset({str, int, float, bool, type(None)})
