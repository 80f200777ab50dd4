"""A gate in Redis between index writers and an alias switch.

Many writers may write at once; each holds a short lease (a Redis key with a TTL) while it
writes one batch, and records which documents it wrote. While a switch journals, those
documents go into its journal, so the switch catches up on exactly them instead of comparing
whole collections. A switch closes the gate, waits until every lease is gone, does its work
(the journal's last few documents), then opens the gate again. Leases and the closed flag
expire, so a crashed process never blocks the others for long; the closed flag and the
journal's are renewed while their switch runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress

import redis
from redis.exceptions import LockError, RedisError

from ..errors import KnowhereError
from ..infra.leases import renewing

POLL_S = 0.05


class GateTimeout(KnowhereError):
    """The gate stayed closed (or busy) longer than allowed."""


class Journal:
    """The documents written since a switch started journalling (or since the last `take`)."""

    def __init__(self, client: redis.Redis, key: str, check: Callable[[], None]) -> None:
        self.client = client
        self.key = key
        self.check = check  # raises once the journal's lease is lost (entries may be missed)

    def take(self) -> set[str]:
        """The documents journalled so far, removed from the journal at once."""
        self.check()
        pipe = self.client.pipeline(transaction=True)
        pipe.smembers(self.key)
        pipe.delete(self.key)
        members, _ = pipe.execute()
        return {m.decode() for m in members}


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

    @property
    def _journal_key(self) -> str:
        return f"{self.prefix}:journal"

    @property
    def _journaling_key(self) -> str:
        return f"{self.prefix}:journaling"

    def record(self, doc_ids: Iterable[str]) -> None:
        """A writer, still holding its lease, says which documents it wrote: while a switch
        journals they go into its journal."""
        ids = list(doc_ids)
        if ids and self.client.exists(self._journaling_key):
            self.client.sadd(self._journal_key, *ids)

    @contextmanager
    def journal(self, hold_s: int = 60, wait_s: float = 1800.0) -> Iterator[Journal]:
        """Journal every document written while the block runs. Writers that were already
        writing when the journal started are waited for first: what they wrote is in the
        collection the block reads next, what anyone writes later is in the journal."""
        flag = self.client.lock(self._journaling_key, timeout=hold_s, thread_local=False)
        if not flag.acquire(blocking=True, blocking_timeout=wait_s):
            raise GateTimeout(f"another switch of '{self.prefix}' is journalling")
        deadline = time.monotonic() + wait_s
        try:
            self.client.delete(self._journal_key)  # a crashed switch's: the block reads all
            with renewing(flag.reacquire, hold_s / 3, "gate-journal") as lease:
                earlier = set(self._leases())
                while earlier & set(self._leases()):
                    if time.monotonic() > deadline:
                        raise GateTimeout(f"writers of '{self.prefix}' did not finish")
                    time.sleep(POLL_S)
                yield Journal(self.client, self._journal_key, lease.check)
        finally:
            self.client.delete(self._journal_key)
            with suppress(LockError, RedisError):  # lost or unreachable: it expires on its own
                flag.release()

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
