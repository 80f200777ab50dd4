"""Caches with expiry: identities in the process, channel audiences shared in Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from indexing import Audience


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


class SharedAudiences:
    """Audiences of channels and chats, cached in Redis for every bot replica at once.

    A membership change seen by one replica drops the entry for all of them, so no replica
    answers for an old member list; entries also expire after `ttl_s`.
    """

    def __init__(self, redis_url: str, prefix: str, ttl_s: int = 120) -> None:
        self.redis = aioredis.from_url(redis_url)
        self.prefix = prefix
        self.ttl_s = ttl_s

    async def get(self, key: str) -> Audience | None:
        raw = await self.redis.get(self.prefix + key)
        return Audience.from_dict(json.loads(raw)) if raw else None

    async def put(self, key: str, audience: Audience) -> None:
        await self.redis.set(self.prefix + key, json.dumps(audience.to_dict()), ex=self.ttl_s)

    async def drop(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)

    async def close(self) -> None:
        await self.redis.aclose()
