"""Whether an answer may be shown to an audience: every passage it was built from is readable
by all of them (checked against the index as it is now, not as it was when answered)."""

from __future__ import annotations

from ..access.model import Audience
from ..store.chunk_store import ChunkStore


def readable_by(store: ChunkStore, chunk_ids: list[str], audience: Audience) -> bool:
    """True when every chunk still exists and every member of `audience` may read it."""
    found = store.fetch(chunk_ids)
    return len(found) == len(set(chunk_ids)) and all(audience.may_read(h.access) for h in found)
