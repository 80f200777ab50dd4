"""Which version of each document is already indexed: content hashes kept in Redis.

Uses LlamaIndex's Redis key-value store (the storage under its Redis docstore), one
collection per Weaviate collection and source, so a full crawl can prune only its own source.
"""

from __future__ import annotations

import redis
import redis.asyncio
from llama_index.storage.kvstore.redis import RedisKVStore


class DocHashStore:
    """doc_id -> content hash of the indexed version, for one collection and source."""

    def __init__(self, client: redis.Redis, collection: str, source: str) -> None:
        # Handing over an async client too keeps RedisKVStore from printing a warning to stdout.
        async_client = redis.asyncio.Redis(**client.connection_pool.connection_kwargs)
        self._kv = RedisKVStore(redis_client=client, async_redis_client=async_client)
        self._name = f"knowhere/{collection}/{source}/doc_hashes"

    def all(self) -> dict[str, str]:
        return {
            doc_id: str(value["hash"]) for doc_id, value in self._kv.get_all(self._name).items()
        }

    def set_many(self, hashes: dict[str, str]) -> None:
        if hashes:
            self._kv.put_all([(d, {"hash": h}) for d, h in hashes.items()], self._name)

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
