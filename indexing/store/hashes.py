"""Which version of each document is already indexed (content hash, access fingerprint,
chunking fingerprint) and its source's own version: kept in Redis, rebuilt from the collection
when Redis has lost it.

Redis is a cache of what the collection itself records: every chunk carries its document's
content hash and chunking fingerprint next to its access list, and the descriptive metadata
holds the source version. A Redis hash gets a marker field once it is complete; a hash without
it (flushed, evicted, never filled) is rebuilt from the first chunk of each document before
it is read. Values Redis already holds win over rebuilt ones: they were written after their
chunks. Reads of a batch fetch that batch's ids only (HMGET), so per-batch work is O(batch).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass

import redis

from .chunk_store import ChunkStore

COMPLETE = "\x00complete"  # the marker field of a complete hash (no document id holds a NUL)


@dataclass(frozen=True)
class Indexed:
    """What is indexed of a document: its content hash, its access fingerprint ("" when
    recorded before access lists were fingerprinted apart: rewritten on the next run) and the
    fingerprint of the chunking settings it was chunked with ("" before those were recorded:
    chunked again on the next run)."""

    content: str
    access: str = ""
    chunking: str = ""


@dataclass(frozen=True)
class Recorded:
    """What the collection records of a source's documents: how each was indexed, and the
    source's version of it (for documents whose source has versions)."""

    indexed: dict[str, Indexed]
    versions: dict[str, str]


def recorded_in(store: ChunkStore, source: str) -> Recorded:
    """What `store` records of the documents of `source` (one scan of the collection).

    Documents whose chunks were written before they carried a content hash are left out:
    they are indexed again (and their versions left out too, or a listing source would skip
    fetching them)."""
    indexed: dict[str, Indexed] = {}
    versions: dict[str, str] = {}
    for chunk in store.first_chunks(source):
        if not chunk.content_hash:
            continue
        indexed[chunk.doc_id] = Indexed(
            chunk.content_hash, chunk.access.fingerprint(), chunk.chunking
        )
        version = json.loads(chunk.meta).get("version") if chunk.meta else None
        if version is not None:
            versions[chunk.doc_id] = str(version)
    return Recorded(indexed, versions)


Recover = Callable[[], dict[str, str]]


class _RecordedHash:
    """doc_id -> a string, in one Redis hash that `recover` rebuilds when it is not complete."""

    def __init__(self, client: redis.Redis, key: str, recover: Recover | None) -> None:
        self._client = client
        self._key = key
        self._recover = recover

    def all(self) -> dict[str, str]:
        raw: dict[bytes, bytes] = self._client.hgetall(self._key)  # type: ignore[assignment]
        values = {k.decode(): v.decode() for k, v in raw.items()}
        if values.pop(COMPLETE, None) is None:
            values = self._rebuild(values)
        return values

    def get_many(self, doc_ids: Collection[str]) -> dict[str, str]:
        """The values of these documents (the ones that have one)."""
        wanted = list(doc_ids)
        raw: list[bytes | None] = self._client.hmget(self._key, [COMPLETE, *wanted])  # type: ignore[assignment]
        if raw[0] is None:
            every = self.all()
            return {d: every[d] for d in wanted if d in every}
        return {d: v.decode() for d, v in zip(wanted, raw[1:], strict=True) if v is not None}

    def set_many(self, values: dict[str, str]) -> None:
        if values:
            self._client.hset(self._key, mapping=values)  # type: ignore[arg-type]

    def delete(self, doc_ids: Collection[str]) -> None:
        if doc_ids:
            self._client.hdel(self._key, *doc_ids)

    def clear(self) -> None:
        """Forget everything, marker included (the next read rebuilds from the collection)."""
        self._client.delete(self._key)

    def _rebuild(self, present: dict[str, str]) -> dict[str, str]:
        """Fill in what the collection records; what Redis holds already stays as it is."""
        recovered = self._recover() if self._recover is not None else {}
        pipe = self._client.pipeline(transaction=False)
        for doc_id, value in recovered.items():
            if doc_id not in present:
                pipe.hsetnx(self._key, doc_id, value)
        pipe.hset(self._key, COMPLETE, "1")
        pipe.execute()
        return {**recovered, **present}


class DocHashStore:
    """doc_id -> what is indexed of it, for one collection and source."""

    def __init__(
        self,
        client: redis.Redis,
        collection: str,
        source: str,
        recover: Callable[[], dict[str, Indexed]] | None = None,
    ) -> None:
        def recovered() -> dict[str, str]:
            return {d: _encode(i) for d, i in recover().items()} if recover else {}

        self._hash = _RecordedHash(client, f"knowhere/{collection}/{source}/doc_hashes", recovered)

    def all(self) -> dict[str, Indexed]:
        return {d: _decode(v) for d, v in self._hash.all().items()}

    def get_many(self, doc_ids: Collection[str]) -> dict[str, Indexed]:
        return {d: _decode(v) for d, v in self._hash.get_many(doc_ids).items()}

    def set_many(self, indexed: dict[str, Indexed]) -> None:
        self._hash.set_many({d: _encode(i) for d, i in indexed.items()})

    def delete(self, doc_ids: Collection[str]) -> None:
        self._hash.delete(doc_ids)

    def clear(self) -> None:
        self._hash.clear()


def _encode(indexed: Indexed) -> str:
    return json.dumps(
        {"hash": indexed.content, "access": indexed.access, "chunking": indexed.chunking}
    )


def _decode(value: str) -> Indexed:
    fields = json.loads(value)
    return Indexed(
        str(fields["hash"]), str(fields.get("access", "")), str(fields.get("chunking", ""))
    )


class SourceVersions:
    """doc_id -> the source's own version of the indexed document (a Confluence page version).

    Lets an incremental sync skip pages whose version it has already indexed, without
    fetching their bodies.
    """

    def __init__(
        self,
        client: redis.Redis,
        collection: str,
        source: str,
        recover: Recover | None = None,
    ) -> None:
        self._hash = _RecordedHash(client, f"knowhere/{collection}/{source}/versions", recover)

    def all(self) -> dict[str, str]:
        return self._hash.all()

    def set_many(self, versions: dict[str, str]) -> None:
        self._hash.set_many(versions)

    def delete(self, doc_ids: Collection[str]) -> None:
        self._hash.delete(doc_ids)
