"""One plugin registry for every kind of extension: parsers, derivers, verdict rules, remediation modules,
transports.

Plugins register in process (``REGISTRY.register(name)`` as a decorator, or ``add``). Packages that extend
auditor declare the modules that register them as entry points in the group ``auditor.plugins``; the first
lookup of any registry imports them all (auditor's own domain, ``auditor.mirrored``, is declared that way in
pyproject.toml, and also listed in ``BUILTIN_PLUGINS`` so a source checkout without an installed
distribution still finds it). A registry may also name lazy modules for single entries (the transports:
paramiko is imported only when a host uses it).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")

ENTRY_POINT_GROUP = "auditor.plugins"
#: modules that register auditor's own plugins (also declared as entry points)
BUILTIN_PLUGINS = ("auditor.parsers.builtin", "auditor.remediate.modules.commands", "auditor.mirrored")
_loaded = False


def load_plugins() -> None:
    """Import every plugin module once: the built-in ones, then those other packages declare."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    modules = list(BUILTIN_PLUGINS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value not in modules:
            modules.append(ep.value)
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a declared plugin that is gone must not break the core
            if exc.name != name:
                raise


class Registry(Generic[T]):
    """Named plugins of one kind."""

    def __init__(self, kind: str, lazy: dict[str, str] | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy = dict(lazy or {})  # name -> module that registers it on import

    def add(self, name: str, item: T) -> T:
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def get(self, name: str) -> T | None:
        if name not in self._items:
            if name in self._lazy:
                importlib.import_module(self._lazy[name])
            else:
                load_plugins()
        return self._items.get(name)

    def names(self) -> list[str]:
        load_plugins()
        return sorted(set(self._items) | set(self._lazy))

    def lazy_module(self, name: str) -> str | None:
        """The module that provides ``name`` when it is loaded lazily (transports)."""
        return self._lazy.get(name)

    def items(self) -> Iterable[tuple[str, T]]:
        load_plugins()
        return list(self._items.items())
