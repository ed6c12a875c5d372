"""The few items with the smallest keys among many, without holding the many: for a recap or a page that names
the first 40 or 50 of 20,000 hosts."""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Smallest(Generic[T]):
    """The ``n`` items with the smallest keys added so far. Keys must differ (a host name in them does): items are
    never compared. Sorting once ``2n`` are held keeps both memory and time small, and once ``n`` are held a key
    past the largest of them is turned away before its item is made."""

    def __init__(self, n: int):
        self.n = n
        self._held: list[tuple[Any, T]] = []
        self._bound: Any = None  # the n-th smallest key at the last sort, once there were n

    def add(self, key: Any, make: Callable[[], T]) -> None:
        """Consider the item ``make()`` under ``key``; ``make`` is called only if the item may be kept (at fleet
        size most are not: a slim copy of each host would be made for nothing)."""
        if self.n <= 0 or (self._bound is not None and key >= self._bound):
            return
        self._held.append((key, make()))
        if len(self._held) >= 2 * self.n:
            self._trim()

    def _trim(self) -> None:
        self._held.sort(key=lambda pair: pair[0])
        del self._held[self.n:]
        if self.n and len(self._held) == self.n:
            self._bound = self._held[-1][0]

    def items(self) -> list[T]:
        """The held items, smallest key first."""
        self._trim()
        return [item for _, item in self._held]
