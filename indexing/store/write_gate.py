"""A gate in Redis between index writers and an alias switch.

Many writers may write at once; each holds a short lease (a Redis key with a TTL) while it
writes one batch. A switch closes the gate, waits until every lease is gone, does its work,
then opens the gate again. Leases and the closed flag expire, so a crashed process never
blocks the others for long; the closed flag is renewed while its switch runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from redis.exceptions import LockError, RedisError

from ..errors import KnowhereError
from ..infra.leases import renewing

POLL_S = 0.05


class GateTimeout(KnowhereError):
    """The gate stayed closed (or busy) longer than allowed."""


class WriteGate:
    """Shared leases for writers of one index, an exclusive close for its alias switch."""

    def __init__(self, client: redis.Redis, index: str, lease_s: int = 900) -> None:
        self.client = client
        self.prefix = f"knowhere:gate:{index}"
        self.lease_s = lease_s

    @property
    def _closed_key(self) -> str:
        return f"{self.prefix}:closed"

    def _leases(self) -> list[bytes]:
        return list(self.client.scan_iter(match=f"{self.prefix}:lease:*", count=1000))

    @contextmanager
    def writing(self, wait_s: float = 3600.0) -> Iterator[None]:
        """Hold a writer's lease for the duration of the block (waits while the gate is closed)."""
        lease = f"{self.prefix}:lease:{uuid.uuid4().hex}"
        deadline = time.monotonic() + wait_s
        while True:
            if not self.client.exists(self._closed_key):
                self.client.set(lease, 1, ex=self.lease_s)
                if not self.client.exists(self._closed_key):
                    break
                self.client.delete(lease)  # closed in between: step back and wait
            if time.monotonic() > deadline:
                raise GateTimeout(f"index '{self.prefix}' stayed closed for {wait_s:.0f}s")
            time.sleep(POLL_S)
        try:
            yield
        finally:
            self.client.delete(lease)

    @contextmanager
    def closed(self, hold_s: int = 60, wait_s: float = 1800.0) -> Iterator[None]:
        """Close the gate: no writer starts, running writers finish; then run the block.

        The closed flag is a Redis lock renewed while the block runs, so a switch of any length
        keeps writers out, and a crashed one frees them within `hold_s`."""
        flag = self.client.lock(self._closed_key, timeout=hold_s, thread_local=False)
        if not flag.acquire(blocking=True, blocking_timeout=wait_s):
            raise GateTimeout(f"another switch of '{self.prefix}' is running")
        deadline = time.monotonic() + wait_s
        try:
            with renewing(flag.reacquire, hold_s / 3, "gate-closed") as lease:
                while self._leases():
                    if time.monotonic() > deadline:
                        raise GateTimeout(
                            f"writers of '{self.prefix}' did not finish in {wait_s:.0f}s"
                        )
                    time.sleep(POLL_S)
                lease.check()
                yield
        finally:
            with suppress(LockError, RedisError):  # lost or unreachable: it expires on its own
                flag.release()
