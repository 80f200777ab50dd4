"""Deliver each platform event once: Slack and Teams both retry when an ack is slow."""

from __future__ import annotations

import redis.asyncio as aioredis

SEEN_FOR_S = 24 * 3600


class Deduper:
    """Remembers event ids in Redis (shared by every bot process) for a day."""

    def __init__(self, redis_url: str, prefix: str = "knowhere:seen:") -> None:
        self.redis = aioredis.from_url(redis_url)
        self.prefix = prefix

    async def first_time(self, event_id: str) -> bool:
        """True the first time `event_id` is seen, False for every repeat."""
        return bool(await self.redis.set(self.prefix + event_id, "1", nx=True, ex=SEEN_FOR_S))

    async def close(self) -> None:
        await self.redis.aclose()
