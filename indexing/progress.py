"""One shape for progress reports, cumulative, with `total` None while it is not known yet.
The CLI turns them into a progress bar; workers pass none."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """`progress(done, total)`: `done` items so far of `total` (None: not known yet)."""

    def __call__(self, done: int, total: int | None, /) -> None: ...
