"""A thread-safe least-recently-used cache bounded by the bytes its entries take.

Used for decoded search postings (kb.search) and for rendered pages (kb.pagecache).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


def _nbytes(_key: Hashable, value: Any) -> int:
    return int(value.nbytes)


class ByteLRU(Generic[V]):
    """Entries by key; the least recently used go first once they pass `max_bytes` in all.

    `sizeof(key, value)` is what an entry costs (default: the value's `nbytes`). An entry
    costing more than `max_item` bytes (default a quarter of the cache) is never kept, so one
    entry cannot crowd out everything else.
    """

    def __init__(
        self,
        max_bytes: int,
        sizeof: Callable[[Hashable, V], int] = _nbytes,
        max_item: int | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_item = max_bytes // 4 if max_item is None else max_item
        self.used = 0
        self._sizeof = sizeof
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V) -> None:
        """Keep value under key (replacing an older one), evicting as needed."""
        cost = self._sizeof(key, value)
        with self._lock:
            self._pop(key)
            if cost > self.max_item:
                return
            self._items[key] = (value, cost)
            self.used += cost
            while self.used > self.max_bytes and self._items:
                self._pop(next(iter(self._items)))

    def pop(self, key: Hashable) -> None:
        """Forget key, if kept."""
        with self._lock:
            self._pop(key)

    def _pop(self, key: Hashable) -> None:
        entry = self._items.pop(key, None)
        if entry is not None:
            self.used -= entry[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0
