"""One Weaviate collection of chunks: create it (behind its alias), write, delete, scan, query.

Writes check Weaviate's per-object errors (LlamaIndex's store does not, #15006); queries are
hybrid (relative-score fusion), vector or BM25, and report each hit's cosine similarity to the
query next to the fused score.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import weaviate
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed
from weaviate.classes.config import ConsistencyLevel
from weaviate.classes.data import DataObject
from weaviate.classes.query import BM25Operator, Filter, HybridFusion, MetadataQuery
from weaviate.exceptions import WeaviateBaseError, WeaviateConnectionError, WeaviateTimeoutError

from ..access.model import Access
from ..errors import ConfigError, StoreError
from .access_lists import AccessLists
from .chunk import Chunk, Hit
from .schema import (
    ACCESS_ID_PROPERTY,
    DESCRIBED,
    INDEXED_AS_PROPERTIES,
    MAX_CLAUSES,
    META_PROPERTY,
    RECORD,
    RETURNED,
    SEARCHABLE,
    STORED,
    chunk_properties,
    clause_property,
    collection_name,
    create_collection,
    parse_description,
    stored_chunk,
    stored_hit,
)

SearchMode = Literal["hybrid", "vector", "bm25"]
WRITE_BATCH = 256
DOCS_PER_QUERY = 20
MAX_RESULTS = 10_000  # Weaviate's default QUERY_MAXIMUM_RESULTS


def _slices(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ChunkStore:
    """One Weaviate collection of chunks, created with an explicit schema."""

    def __init__(
        self,
        client: weaviate.WeaviateClient,
        name: str,
        access_lists: AccessLists | None = None,
        consistency: str | None = None,
    ) -> None:
        self.client = client
        self.name = name
        # Reads and writes at this consistency level (ONE, QUORUM, ALL; None: Weaviate's
        # default, QUORUM) on a replicated collection.
        self.consistency = consistency
        collection = client.collections.use(name)
        if consistency:
            collection = collection.with_consistency_level(ConsistencyLevel(consistency))
        self.collection = collection
        # Where writes register their access lists (the filter finds chunks through them).
        self.access_lists = access_lists

    def ensure(
        self,
        embedder_name: str,
        dimension: int,
        known: Collection[str] = (),
        replication: int = 1,
    ) -> None:
        """Create the collection if missing; refuse one built with a different model.

        A new collection is created under its own name and reached through an alias
        named `self.name`, so re-embedding can later switch the alias atomically. An existing
        one built by a fine-tuned descendant of the model (a version in `known`) is accepted.
        """
        if self.client.collections.exists(self.name):
            self._add_missing_properties()
            existing = self.embedder_version()
            if existing in known:
                return
            base = existing.split("@")[0]
            if base and base != embedder_name.split("@")[0]:
                raise ConfigError(
                    f"Collection '{self.name}' holds vectors from '{base}', but the embedder "
                    f"is '{embedder_name}'. Use another KNOWHERE_COLLECTION or re-index."
                )
            return
        target = collection_name(self.name, embedder_name)
        try:
            create_collection(self.client, target, embedder_name, dimension, replication)
        except WeaviateBaseError:
            if not self.client.collections.exists(target):  # not a concurrent ensure()
                raise
        try:
            self.client.alias.create(alias_name=self.name, target_collection=target)
        except WeaviateBaseError:
            if self.client.alias.get(alias_name=self.name) is None:  # not a concurrent ensure()
                raise

    def _add_missing_properties(self) -> None:
        """Collections created by an older version lack later properties: add them. (Their
        restricted chunks read as closed until their access is rewritten, which the next
        index run or sync does in place.)"""
        present = {p.name for p in self.collection.config.get().properties}
        wanted = [
            META_PROPERTY,
            ACCESS_ID_PROPERTY,
            *INDEXED_AS_PROPERTIES,
            *(clause_property(i) for i in range(MAX_CLAUSES)),
        ]
        for prop in wanted:
            if prop.name not in present:
                with suppress(WeaviateBaseError):  # added concurrently by another process
                    self.collection.config.add_property(prop)

    def replication(self) -> int:
        """On how many nodes the collection keeps each shard."""
        config = self.collection.config.get().replication_config
        return int(config.factor) if config is not None else 1

    def embedder_version(self) -> str:
        """The embedder version recorded when the collection was created."""
        config = self.collection.config.get()
        return parse_description(config.description).get("embedder", "")

    def target(self) -> str:
        """The concrete collection behind this name (the name itself when it is no alias)."""
        alias = _alias_of(self.client, self.name)
        return alias.collection if alias is not None else self.name

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Write chunks (same id overwrites). Raises if Weaviate rejected any object.

        Their access lists are registered first, so a chunk is never findable under a list
        nobody knows."""
        if self.access_lists is not None:
            self.access_lists.register({c.access for c in chunks})
        for batch in _slices(list(chunks), WRITE_BATCH):
            objects = [
                DataObject(uuid=c.id, properties=chunk_properties(c), vector=c.vector)
                for c in batch
            ]
            try:
                result = self.collection.data.insert_many(objects)
            except WeaviateBaseError as err:
                raise StoreError(f"writing to collection '{self.name}' failed: {err}") from err
            if result.errors:
                index, error = next(iter(result.errors.items()))
                chunk = batch[index]
                raise StoreError(
                    f"Weaviate rejected {len(result.errors)} chunk(s) in '{self.name}', e.g. "
                    f"{chunk.doc_id}#{chunk.chunk_index}: {error.message}"
                )

    def documents(self, doc_ids: Iterable[str], with_vectors: bool = False) -> Iterator[Chunk]:
        """Every stored chunk of these documents (with their vectors when asked)."""
        for part in _slices(sorted(set(doc_ids)), DOCS_PER_QUERY):
            try:
                response = self.collection.query.fetch_objects(
                    filters=Filter.by_property("doc_id").contains_any(part),
                    limit=MAX_RESULTS,
                    return_properties=STORED,
                    include_vector=with_vectors,
                )
            except WeaviateBaseError as err:
                raise StoreError(f"reading collection '{self.name}' failed: {err}") from err
            if len(response.objects) == MAX_RESULTS:
                raise StoreError(
                    f"more than {MAX_RESULTS} chunks for documents {part[:3]}… in '{self.name}'"
                )
            for obj in response.objects:
                chunk = stored_chunk(obj)
                yield replace(chunk, vector=_vector_of(obj.vector)) if with_vectors else chunk

    def set_access(self, accesses: dict[str, Access]) -> int:
        """Rewrite the access lists of these documents' chunks in place (their vectors are
        kept, nothing is embedded). Returns the number of chunks rewritten."""
        rewritten = 0
        for part in _slices(list(accesses), DOCS_PER_QUERY):
            chunks = [
                replace(chunk, access=accesses[chunk.doc_id])
                for chunk in self.documents(part, with_vectors=True)
            ]
            self.upsert(chunks)
            rewritten += len(chunks)
        return rewritten

    def delete_ids(self, ids: Iterable[str]) -> int:
        return sum(
            self._delete_where(Filter.by_id().contains_any(part))
            for part in _slices(list(ids), 1000)
        )

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete every chunk of these documents (checked; any number of chunks)."""
        return sum(
            self._delete_where(Filter.by_property("doc_id").contains_any(part))
            for part in _slices(list(doc_ids), DOCS_PER_QUERY)
        )

    def delete_beyond(self, chunk_counts: dict[str, int]) -> int:
        """Delete the chunks of each document from position `chunk_counts[doc]` on: what is
        left of a longer earlier version (chunk ids are positions, so the rest was overwritten)."""
        return sum(
            self._delete_where(
                Filter.any_of(
                    [
                        Filter.by_property("doc_id").equal(doc_id)
                        & Filter.by_property("chunk_index").greater_or_equal(count)
                        for doc_id, count in part
                    ]
                )
            )
            for part in _slices(sorted(chunk_counts.items()), DOCS_PER_QUERY)
        )

    def _delete_where(self, where: Any) -> int:
        """Delete what `where` matches, checked: Weaviate deletes at most MAX_RESULTS objects
        per call, so it is called again until nothing matches; any object it failed to delete
        raises (nothing is reported deleted that is still there)."""
        deleted = 0
        while True:
            try:
                result = self.collection.data.delete_many(where=where)
            except WeaviateBaseError as err:
                raise StoreError(f"deleting from collection '{self.name}' failed: {err}") from err
            if result.failed:
                raise StoreError(
                    f"Weaviate failed to delete {result.failed} of {result.matches} chunk(s) "
                    f"in '{self.name}'"
                )
            deleted += int(result.successful)
            if result.matches < MAX_RESULTS:
                return deleted

    def count(self, doc_ids: Collection[str] | None = None) -> int:
        """How many chunks the collection holds (of these documents only, when given)."""
        if doc_ids is None:
            result = self.collection.aggregate.over_all(total_count=True)
            return int(result.total_count or 0)
        return sum(
            int(
                self.collection.aggregate.over_all(
                    total_count=True, filters=Filter.by_property("doc_id").contains_any(part)
                ).total_count
                or 0
            )
            for part in _slices(sorted(doc_ids), DOCS_PER_QUERY)
        )

    def query(
        self,
        text: str,
        vector: list[float] | None,
        limit: int,
        mode: SearchMode = "hybrid",
        alpha: float = 0.8,
        filters: Any = None,
        all_terms: bool = False,
    ) -> list[Hit]:
        """Hybrid (relative-score fusion; alpha 1 = vector only), vector or BM25 search;
        `all_terms`: BM25 matches only chunks holding every word of `text`."""
        query = self.collection.query
        common: dict[str, Any] = {
            "limit": limit,
            "filters": filters,
            "return_metadata": MetadataQuery(score=True, distance=True),
            "return_properties": RETURNED,
            "include_vector": vector is not None,
        }
        try:
            if mode == "bm25":
                operator = BM25Operator.and_() if all_terms else None
                response = query.bm25(
                    query=text, query_properties=SEARCHABLE, operator=operator, **common
                )
            elif mode == "vector":
                if vector is None:
                    raise ValueError("vector search needs a query vector")
                response = query.near_vector(near_vector=vector, **common)
            else:
                response = query.hybrid(
                    query=text,
                    vector=vector,
                    alpha=alpha,
                    query_properties=SEARCHABLE,
                    fusion_type=HybridFusion.RELATIVE_SCORE,
                    **common,
                )
        except WeaviateBaseError as err:
            raise StoreError(f"query on collection '{self.name}' failed: {err}") from err
        query_vector = np.asarray(vector, dtype=np.float32) if vector is not None else None
        hits = []
        for obj in response.objects:
            meta = obj.metadata
            if mode == "vector":
                score = 1.0 - float(meta.distance or 0.0)
            else:
                score = float(meta.score or 0.0)
            hits.append(stored_hit(obj, score, _similarity(query_vector, obj.vector)))
        return hits

    def page(
        self, after: str | None = None, limit: int = WRITE_BATCH, properties: list[str] = STORED
    ) -> list[Chunk]:
        """Stored chunks in id order after `after`, without vectors: a resumable scan."""
        try:
            response = self.collection.query.fetch_objects(
                after=after, limit=limit, return_properties=properties
            )
        except WeaviateBaseError as err:
            raise StoreError(f"reading collection '{self.name}' failed: {err}") from err
        return [stored_chunk(obj) for obj in response.objects]

    def scan(
        self, after: str | None = None, limit: int = WRITE_BATCH, properties: list[str] = STORED
    ) -> Iterator[Chunk]:
        """Every stored chunk (without vector), in id order."""
        while True:
            page = self.page(after, limit, properties)
            yield from page
            if len(page) < limit:
                return
            after = page[-1].id

    def first_chunks(self, source: str) -> Iterator[Chunk]:
        """The first chunk of each document of `source`, without its text: what the collection
        records of how each document was indexed. Scans the whole collection with the cursor
        (Weaviate pages a filtered query no further than MAX_RESULTS objects)."""
        if not self.client.collections.exists(self.name):
            return
        for chunk in self.scan(limit=1000, properties=RECORD):
            if chunk.source == source and chunk.chunk_index == 0:
                yield chunk

    def described(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks with these ids, with their source, access list, document
        metadata and content hash only (no text, no vector); missing ones are left out."""
        found: list[Chunk] = []
        for part in _slices(list(chunk_ids), 1000):
            try:
                response = self.collection.query.fetch_objects(
                    filters=Filter.by_id().contains_any(part),
                    limit=len(part),
                    return_properties=DESCRIBED,
                )
            except WeaviateBaseError as err:
                raise StoreError(f"reading collection '{self.name}' failed: {err}") from err
            found.extend(stored_chunk(obj) for obj in response.objects)
        return found

    def fetch(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """The stored chunks with these ids (missing ones are left out)."""
        found: list[Hit] = []
        for part in _slices(list(chunk_ids), 1000):
            response = self.collection.query.fetch_objects(
                filters=Filter.by_id().contains_any(part),
                limit=len(part),
                return_properties=RETURNED,
            )
            found.extend(stored_hit(obj, 0.0, None) for obj in response.objects)
        return found


@retry(
    retry=retry_if_exception_type((WeaviateTimeoutError, WeaviateConnectionError)),
    stop=stop_after_attempt(3),
    wait=wait_fixed(1),
    reraise=True,
)
def _alias_of(client: weaviate.WeaviateClient, name: str) -> Any:
    """The alias `name` (None when there is none). Alias lookups go to the cluster's Raft
    leader: while a dead leader is replaced they time out, and a try after the election
    answers."""
    return client.alias.get(alias_name=name)


def _vector_of(vectors: Any) -> list[float]:
    return list(vectors.get("default", next(iter(vectors.values()))))


def _similarity(query: np.ndarray | None, vectors: Any) -> float | None:
    if query is None or not vectors:
        return None
    stored = np.asarray(_vector_of(vectors), dtype=np.float32)
    norm = float(np.linalg.norm(query) * np.linalg.norm(stored))
    return float(query @ stored / norm) if norm else None
