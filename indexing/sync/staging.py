"""Where a run keeps what its batches and its end need: one Redis area per run.

An export can only be read whole, so the run that plans reads it once, stages the documents
that changed (and their ticket pairs) here, and sends batches of ids; a batch on any worker
reads its documents back. The source's full id list is staged too (an export's, or a
listing's) for the prune at the end, so nothing reads or lists the source a second time.
The area expires on its own if a run never finishes.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import redis
from llama_index.core import Document

from ..sources.interfaces import Loaded
from ..sources.tickets.pairs import TicketPair

STAGING_TTL_S = 3 * 24 * 3600


class RunStaging:
    def __init__(self, client: redis.Redis, run_id: str, ttl_s: int = STAGING_TTL_S) -> None:
        self.client = client
        self.prefix = f"knowhere:sync:{run_id}"
        self.ttl_s = ttl_s

    @property
    def _documents(self) -> str:
        return f"{self.prefix}:documents"

    @property
    def _listing(self) -> str:
        return f"{self.prefix}:listing"

    def stage(self, documents: list[Document], pairs: dict[str, TicketPair]) -> None:
        pipe = self.client.pipeline()
        for document in documents:
            record = {"text": document.text, "metadata": document.metadata}
            pair = pairs.get(document.id_)
            if pair is not None:
                record["pair"] = asdict(pair)
            pipe.hset(self._documents, document.id_, json.dumps(record, ensure_ascii=False))
        pipe.expire(self._documents, self.ttl_s)
        pipe.execute()

    def stage_listing(self, listing: set[str] | None) -> None:
        """Every document the source holds now; None (nothing staged): do not prune."""
        if not listing:
            return
        pipe = self.client.pipeline()
        for part in _slices(sorted(listing), 10_000):
            pipe.sadd(self._listing, *part)
        pipe.set(f"{self._listing}:complete", 1, ex=self.ttl_s)
        pipe.expire(self._listing, self.ttl_s)
        pipe.execute()

    def load(self, ids: list[str]) -> Loaded:
        """The staged documents with these ids (and their pairs)."""
        loaded = Loaded(documents=[])
        raw: list[bytes | None] = self.client.hmget(self._documents, ids) if ids else []  # type: ignore[assignment]
        for doc_id, value in zip(ids, raw, strict=True):
            if value is None:
                continue  # the area expired or was cleared: the batch records nothing for it
            record = json.loads(value)
            loaded.documents.append(
                Document(id_=doc_id, text=record["text"], metadata=record["metadata"])
            )
            if "pair" in record:
                loaded.pairs.append(TicketPair(**record["pair"]))
        return loaded

    def listing(self) -> set[str] | None:
        """The staged listing, or None when none was staged (incomplete: do not prune)."""
        if not self.client.exists(f"{self._listing}:complete"):
            return None
        return {m.decode() for m in self.client.smembers(self._listing)}  # type: ignore[union-attr]

    def clear(self) -> None:
        self.client.delete(self._documents, self._listing, f"{self._listing}:complete")


def _slices(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
