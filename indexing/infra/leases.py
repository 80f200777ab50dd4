"""Keep a lease alive while a block runs: `renew` is called every `interval` seconds in a
thread, and the block learns when the lease is lost.

A lease is lost when `renew` returns False or raises Redis's `LockError` (someone else holds
it now). A Redis error (connection lost, timeout, failover) is not a loss: the renewal is
retried at a shorter interval until Redis answers again, and the lease's own TTL decides
whether it survived. The block calls `lease.check()` between steps of its work: once the
lease is lost it raises `LeaseLost`, so work that someone else now owns stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import LockError, RedisError

from ..errors import KnowhereError

log = logging.getLogger(__name__)

RETRY_S = 1.0  # at most this long between renewals while Redis does not answer


class LeaseLost(KnowhereError):
    """The lease this work held was lost (expired and taken, or released): it must stop."""


class Lease:
    def __init__(self, name: str) -> None:
        self.name = name
        self._lost = threading.Event()

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def lose(self) -> None:
        self._lost.set()

    def check(self) -> None:
        """Raise LeaseLost once the lease is lost."""
        if self.lost:
            raise LeaseLost(f"the {self.name} lease was lost: someone else holds it now")


def release(lock: Any, name: str) -> None:
    """Free a redis-py lock at the end of work that is done. One that expired or was taken
    over is not ours to free, and Redis being away must not fail the finished work: the lock
    expires on its own."""
    try:
        lock.release()
    except LockError:
        pass
    except RedisError as err:
        log.warning("could not release the %s lock (it expires on its own): %s", name, err)


@contextmanager
def renewing(renew: Callable[[], object], interval: float, name: str) -> Iterator[Lease]:
    lease = Lease(name)
    stop = threading.Event()

    def loop() -> None:
        wait = interval
        while not stop.wait(wait):
            try:
                kept = renew()
            except LockError:
                kept = False
            except RedisError as err:  # Redis is away for now: try again soon
                log.warning("renewing the %s lease failed, retrying: %s", name, err)
                wait = min(interval, RETRY_S)
                continue
            if kept is False:
                log.warning("the %s lease was lost", name)
                lease.lose()
                return
            wait = interval

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join()
