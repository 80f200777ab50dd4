"""Which version of each document is already indexed: content hash and access fingerprint,
kept in Redis.

Uses LlamaIndex's Redis key-value store (the storage under its Redis docstore), one
collection per Weaviate collection and source, so a full crawl can prune only its own source.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio
from llama_index.storage.kvstore.redis import RedisKVStore


@dataclass(frozen=True)
class Indexed:
    """What is indexed of a document: its content hash, its access fingerprint ("" when
    recorded before access lists were fingerprinted apart: rewritten on the next run) and the
    fingerprint of the chunking settings it was chunked with ("" before those were recorded:
    chunked again on the next run)."""

    content: str
    access: str = ""
    chunking: str = ""


class DocHashStore:
    """doc_id -> what is indexed of it, for one collection and source."""

    def __init__(self, client: redis.Redis, collection: str, source: str) -> None:
        # Handing over an async client too keeps RedisKVStore from printing a warning to stdout.
        async_client = redis.asyncio.Redis(**client.connection_pool.connection_kwargs)
        self._kv = RedisKVStore(redis_client=client, async_redis_client=async_client)
        self._name = f"knowhere/{collection}/{source}/doc_hashes"

    def all(self) -> dict[str, Indexed]:
        return {
            doc_id: Indexed(
                str(value["hash"]), str(value.get("access", "")), str(value.get("chunking", ""))
            )
            for doc_id, value in self._kv.get_all(self._name).items()
        }

    def set_many(self, indexed: dict[str, Indexed]) -> None:
        if indexed:
            values = [
                (d, {"hash": i.content, "access": i.access, "chunking": i.chunking})
                for d, i in indexed.items()
            ]
            self._kv.put_all(values, self._name)

    def delete(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self._kv.delete(doc_id, self._name)

    def clear(self) -> None:
        self.delete(list(self.all()))


class SourceVersions:
    """doc_id -> the source's own version of the indexed document (a Confluence page version).

    Lets an incremental sync skip pages whose version it has already indexed, without
    fetching their bodies.
    """

    def __init__(self, client: redis.Redis, collection: str, source: str) -> None:
        self._client = client
        self._key = f"knowhere/{collection}/{source}/versions"

    def all(self) -> dict[str, str]:
        raw = self._client.hgetall(self._key)
        return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]

    def set_many(self, versions: dict[str, str]) -> None:
        if versions:
            self._client.hset(self._key, mapping=versions)  # type: ignore[arg-type]

    def delete(self, doc_ids: list[str]) -> None:
        if doc_ids:
            self._client.hdel(self._key, *doc_ids)
