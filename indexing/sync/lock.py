"""The per-source lock: one sync of a source at a time, across every worker host.

Acquired by a run (its token is in the run record) and renewed by whoever works for it, so a
killed worker frees the source within the lock's TTL and the next run abandons the dead one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import redis
from redis.exceptions import LockError

from ..infra.leases import Lease, release, renewing


class SourceLock:
    def __init__(self, client: redis.Redis, source: str, ttl: int) -> None:
        self.client = client
        self.name = f"knowhere:sync-lock:{source}"
        self.ttl = ttl

    def _lock(self, token: str | None = None) -> Any:
        lock = self.client.lock(self.name, timeout=self.ttl, thread_local=False)
        if token is not None:
            lock.local.token = token.encode()
        return lock

    def acquire(self) -> str | None:
        lock = self._lock()
        return lock.local.token.decode() if lock.acquire(blocking=False) else None

    def hold(self, token: str) -> bool:
        """Renew the lock for `token`; take it again if it expired and nobody else has it.
        Renewing is tried once more after a failed take: another batch of the same run may
        have taken the expired lock back a moment ago, and it is then still this run's
        (without this, one of two such batches was dropped)."""
        return (
            self._renewed(token)
            or bool(self.client.set(self.name, token, nx=True, px=self.ttl * 1000))
            or self._renewed(token)
        )

    def _renewed(self, token: str) -> bool:
        try:
            self._lock(token).reacquire()
            return True
        except LockError:
            return False

    def release(self, token: str) -> None:
        """Free the source (a lock lost to a newer run, or Redis being away, is no failure)."""
        release(self._lock(token), "sync")

    def kept(self, token: str) -> AbstractContextManager[Lease]:
        """Keep renewing the lock while the block runs; the lease tells whether it was lost."""
        return renewing(lambda: self.hold(token), max(1.0, self.ttl / 3), "sync-lock")
