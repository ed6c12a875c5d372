"""The few items with the smallest keys among many, without holding the many: for a recap or a page that names
the first 40 or 50 of 20,000 hosts."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Smallest(Generic[T]):
    """The ``n`` items with the smallest keys added so far. Keys must differ (a host name in them does): items are
    never compared. Sorting once ``2n`` are held keeps both memory and time small."""

    def __init__(self, n: int):
        self.n = n
        self._held: list[tuple[Any, T]] = []

    def add(self, key: Any, item: T) -> None:
        self._held.append((key, item))
        if len(self._held) >= 2 * self.n:
            self._trim()

    def _trim(self) -> None:
        self._held.sort(key=lambda pair: pair[0])
        del self._held[self.n:]

    def items(self) -> list[T]:
        """The held items, smallest key first."""
        self._trim()
        return [item for _, item in self._held]
