"""Whether an answer may be shown to an audience: every passage it was built from is readable
by all of them (checked against the index as it is now, not as it was when answered)."""

from __future__ import annotations

from ..access.model import Audience
from ..store.chunk_store import ChunkStore
from .answer import Answer


def made_from(answer: Answer) -> list[str]:
    """Every passage the answer was made from: all the generator was given, cited or not."""
    return list(dict.fromkeys([*answer.retrieved, *(c.chunk_id for c in answer.citations)]))


def readable_by(store: ChunkStore, chunk_ids: list[str], audience: Audience) -> bool:
    """True when every chunk still exists and every member of `audience` may read it."""
    found = store.fetch(chunk_ids)
    return len(found) == len(set(chunk_ids)) and all(audience.may_read(h.access) for h in found)
