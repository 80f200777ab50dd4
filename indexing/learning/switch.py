"""Re-embed an index into a new collection and switch its alias, with no downtime.

1. Fill the new collection from the serving one: same ids and properties, new vectors.
   Indexing goes on meanwhile (into the serving collection); questions are answered from it.
   Every document written meanwhile is journalled (the write gate's journal).
2. Catch up on the journalled documents: compare their chunks in both collections (a
   fingerprint of each chunk's properties), write what changed, delete what is gone.
3. Close the write gate (running index batches finish, new ones wait), catch up on the last
   few journalled documents, point the alias at the new collection, open the gate. The
   writers' pause is as long as those few documents take, whatever the index's size.

Every step compares before it writes, so a run killed half-way is resumed by running it
again: what is already in the new collection is not embedded twice. The old collection is
kept, so a rollback is the same switch in the other direction.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace

import weaviate

from ..embedding.embedder import SentenceEmbedder
from ..errors import ConfigError
from ..ingest.chunking import embedding_text
from ..progress import Progress
from ..store.chunk import Chunk
from ..store.chunk_store import WRITE_BATCH, ChunkStore
from ..store.schema import chunk_properties, create_collection
from ..store.write_gate import WriteGate


@dataclass
class SwitchReport:
    """What one switch did."""

    index: str
    from_collection: str
    to_collection: str
    to_version: str
    filled: int = 0  # chunks embedded while filling the new collection
    caught_up: int = 0  # chunks changed meanwhile, embedded before the gate closed
    final: int = 0  # chunks embedded with the gate closed
    removed: int = 0  # chunks in the new collection that the serving one no longer had
    chunks: int = 0  # chunks in the index after the switch
    seconds: float = 0.0
    closed_seconds: float = 0.0  # how long writers waited

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["closed_seconds"] = round(self.closed_seconds, 3)
        return data


def fingerprint(chunk: Chunk) -> str:
    """A hash of what a chunk says and who may read it (not of its vector or embedder)."""
    props = chunk_properties(chunk)
    props.pop("embedder", None)
    if chunk.updated_at is not None:
        props["updated_at"] = chunk.updated_at.isoformat()
    encoded = json.dumps(props, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha1(encoded).hexdigest()


def _write(dst: ChunkStore, chunks: list[Chunk], embedder: SentenceEmbedder) -> int:
    if not chunks:
        return 0
    vectors = embedder.embed([embedding_text(c.title, c.heading, c.text) for c in chunks])
    dst.upsert(
        [
            replace(c, vector=v, embedder=embedder.version)
            for c, v in zip(chunks, vectors, strict=True)
        ]
    )
    return len(chunks)


def reconcile(
    src: ChunkStore,
    dst: ChunkStore,
    embedder: SentenceEmbedder,
    progress: Progress | None = None,
    batch: int = WRITE_BATCH,
) -> tuple[int, int]:
    """Make `dst` hold exactly `src`'s chunks, embedding only the ones that differ.

    Returns (chunks embedded, chunks removed).
    """
    have = {chunk.id: fingerprint(chunk) for chunk in dst.scan()}
    written = 0
    done = 0
    pending: list[Chunk] = []
    for chunk in src.scan():
        if have.pop(chunk.id, None) != fingerprint(chunk):
            pending.append(chunk)
        if len(pending) >= batch:
            written += _write(dst, pending, embedder)
            done += len(pending)
            if progress:
                progress(done, None)
            pending = []
    written += _write(dst, pending, embedder)
    removed = dst.delete_ids(list(have)) if have else 0
    return written, removed


def reconcile_documents(
    src: ChunkStore, dst: ChunkStore, embedder: SentenceEmbedder, doc_ids: set[str]
) -> tuple[int, int]:
    """Make `dst` hold exactly `src`'s chunks of these documents. Returns (embedded, removed)."""
    if not doc_ids:
        return 0, 0
    have = {chunk.id: fingerprint(chunk) for chunk in dst.documents(doc_ids)}
    pending = [c for c in src.documents(doc_ids) if have.pop(c.id, None) != fingerprint(c)]
    written = sum(
        _write(dst, pending[start : start + WRITE_BATCH], embedder)
        for start in range(0, len(pending), WRITE_BATCH)
    )
    removed = dst.delete_ids(list(have)) if have else 0
    return written, removed


CATCH_UPS = 5  # journal rounds with the gate open, before closing it for the last few


def switch_index(
    client: weaviate.WeaviateClient,
    index: str,
    target: str,
    embedder: SentenceEmbedder,
    gate: WriteGate,
    progress: Progress | None = None,
    batch: int = WRITE_BATCH,
) -> SwitchReport:
    """Fill (or refresh) collection `target` with `embedder`, then point alias `index` at it."""
    started = time.perf_counter()
    alias = client.alias.get(alias_name=index)
    if alias is None:
        raise ConfigError(
            f"'{index}' is a collection, not an alias, so it cannot be switched without "
            "downtime. Index into a new KNOWHERE_COLLECTION (created as an alias) first."
        )
    src = ChunkStore(client, alias.collection)
    dst = ChunkStore(client, target)
    report = SwitchReport(index, alias.collection, target, embedder.version)
    if alias.collection == target:
        report.chunks = dst.count()
        return report
    if not client.collections.exists(target):
        # As many replicas as the collection it replaces.
        create_collection(client, target, embedder.version, embedder.dimension, src.replication())
    elif dst.embedder_version() != embedder.version:
        raise ConfigError(f"collection '{target}' holds vectors of '{dst.embedder_version()}'")
    with gate.journal() as journal:
        report.filled, removed = reconcile(src, dst, embedder, progress, batch)
        for _ in range(CATCH_UPS):
            changed = journal.take()
            if not changed:
                break
            caught_up, removed_now = reconcile_documents(src, dst, embedder, changed)
            report.caught_up += caught_up
            removed += removed_now
        closing = time.perf_counter()
        with gate.closed():
            report.final, removed_last = reconcile_documents(src, dst, embedder, journal.take())
            client.alias.update(alias_name=index, new_target_collection=target)
            report.closed_seconds = time.perf_counter() - closing
    report.removed = removed + removed_last
    report.chunks = dst.count()
    report.seconds = time.perf_counter() - started
    return report
