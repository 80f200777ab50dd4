"""Which questions a bot takes on now: a per-user rate limit and a bounded answer queue.

- Each person may ask `KNOWHERE_USER_QUESTIONS_PER_MINUTE` questions in any moving minute,
  counted in Redis (the `limits` library), so every bot replica shares the count.
- A bot process holds at most `KNOWHERE_ANSWER_QUEUE` questions, waiting or being answered;
  past that, a new question is turned away at once instead of waiting behind all of them.

Either way the asker is told, politely, when to try again: the rate limit's window says when
a slot frees up; for a full queue it is the questions ahead times the recent answer time.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from indexing import Settings

SMOOTHING = 0.2  # weight of the latest answer in the recent answer time


class NotNow(Exception):
    """A question the bot does not take on now; `note` tells the asker when to try again."""

    def __init__(self, note: str, retry_after: int) -> None:
        super().__init__(note)
        self.note = note
        self.retry_after = retry_after


@dataclass
class Admission:
    limiter: MovingWindowRateLimiter
    per_user: RateLimitItemPerMinute
    max_waiting: int
    platform: str
    waiting: int = 0
    recent_seconds: float = 2.0  # a moving average of how long answers take here

    @classmethod
    def from_settings(cls, settings: Settings, platform: str) -> Admission:
        url = settings.redis_url.replace("redis://", "async+redis://", 1)
        storage = RedisStorage(url, implementation="redispy", key_prefix="knowhere:asked")
        return cls(
            MovingWindowRateLimiter(storage),
            RateLimitItemPerMinute(settings.user_questions_per_minute),
            settings.answer_queue,
            platform,
        )

    @asynccontextmanager
    async def admit(self, user: str) -> AsyncIterator[None]:
        """Hold a place for `user`'s question while the block runs; NotNow when there is none
        (the queue is full, or they asked too often)."""
        if self.waiting >= self.max_waiting:
            wait = max(5, math.ceil(self.waiting * self.recent_seconds))
            raise NotNow(
                f"I'm answering a lot of questions right now. Please try again in {wait} s.", wait
            )
        if not await self.limiter.hit(self.per_user, self.platform, user):
            stats = await self.limiter.get_window_stats(self.per_user, self.platform, user)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            raise NotNow(
                f"You've asked {self.per_user.amount} questions in the last minute. Please try "
                f"again in {wait} s.",
                wait,
            )
        self.waiting += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.waiting -= 1
            took = time.monotonic() - started
            self.recent_seconds += SMOOTHING * (took - self.recent_seconds)
