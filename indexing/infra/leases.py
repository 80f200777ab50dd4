"""Keep a lease alive: call `renew` every `interval` seconds in a thread while a block runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def renewing(renew: Callable[[], object], interval: float, name: str) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            renew()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
