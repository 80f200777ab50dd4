"""A small in-process cache with expiry (identities and memberships)."""

from __future__ import annotations

import time
from typing import Any


class TTLCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        hit = self._items.get(key)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (time.monotonic() + self.ttl_s, value)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)
