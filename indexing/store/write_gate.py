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
from contextlib import contextmanager

import redis

from ..errors import KnowhereError
from ..infra.leases import Lease, release, renewing

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
    def _flag(self, key: str, hold_s: int, wait_s: float, busy: str) -> Iterator[Lease]:
        """Hold the flag `key`, a Redis lock that writers look at, renewed while the block
        runs (a crashed holder frees it within `hold_s`)."""
        flag = self.client.lock(key, timeout=hold_s, thread_local=False)
        if not flag.acquire(blocking=True, blocking_timeout=wait_s):
            raise GateTimeout(f"another switch of '{self.prefix}' is {busy}")
        try:
            with renewing(flag.reacquire, hold_s / 3, key.rsplit(":", 1)[-1]) as lease:
                yield lease
        finally:
            release(flag, key)

    def _wait_for_writers(self, wait_s: float, only: set[bytes] | None = None) -> None:
        """Wait until no writer holds a lease (or none of the leases in `only` is left)."""
        deadline = time.monotonic() + wait_s
        while True:
            left = set(self._leases())
            if not (left if only is None else only & left):
                return
            if time.monotonic() > deadline:
                raise GateTimeout(f"writers of '{self.prefix}' did not finish in {wait_s:.0f}s")
            time.sleep(POLL_S)

    @contextmanager
    def journal(self, hold_s: int = 60, wait_s: float = 1800.0) -> Iterator[Journal]:
        """Journal every document written while the block runs. Writers that were already
        writing when the journal started are waited for first: what they wrote is in the
        collection the block reads next, what anyone writes later is in the journal."""
        with self._flag(self._journaling_key, hold_s, wait_s, "journalling") as lease:
            self.client.delete(self._journal_key)  # a crashed switch's: the block reads all
            try:
                self._wait_for_writers(wait_s, only=set(self._leases()))
                yield Journal(self.client, self._journal_key, lease.check)
            finally:
                self.client.delete(self._journal_key)

    @contextmanager
    def closed(self, hold_s: int = 60, wait_s: float = 1800.0) -> Iterator[None]:
        """Close the gate: no writer starts, running writers finish; then run the block.

        The closed flag is a Redis lock renewed while the block runs, so a switch of any length
        keeps writers out, and a crashed one frees them within `hold_s`."""
        with self._flag(self._closed_key, hold_s, wait_s, "running") as lease:
            self._wait_for_writers(wait_s)
            lease.check()
            yield
