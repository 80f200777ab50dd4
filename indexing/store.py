"""The Weaviate collection that holds chunks: connection, explicit schema, upserts, queries."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.exceptions import WeaviateBaseError

from .errors import ConfigError, ServiceUnavailable, StoreError
from .settings import Settings

SearchMode = Literal["hybrid", "vector", "bm25"]
SEARCHABLE = ["text", "title", "heading"]
RETURNED = [
    "text",
    "title",
    "heading",
    "url",
    "source",
    "doc_id",
    "chunk_index",
    "acl_users",
    "acl_groups",
    "acl_public",
]
STORED = [*RETURNED, "updated_at", "embedder", "meta"]
WRITE_BATCH = 256
DOCS_PER_QUERY = 20
MAX_RESULTS = 10_000  # Weaviate's default QUERY_MAXIMUM_RESULTS


def _slices(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Chunk:
    """One chunk ready to store: its deterministic id, vector and properties."""

    id: str
    doc_id: str
    text: str
    vector: list[float]
    title: str = ""
    heading: str = ""
    url: str = ""
    source: str = ""
    chunk_index: int = 0
    updated_at: datetime | None = None
    embedder: str = ""
    acl_users: list[str] = field(default_factory=list)
    acl_groups: list[str] = field(default_factory=list)
    acl_public: bool = True
    meta: str = ""  # JSON of the document's descriptive metadata (space, labels, version…)

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "text": self.text,
            "title": self.title,
            "heading": self.heading,
            "url": self.url,
            "source": self.source,
            "doc_id": self.doc_id,
            "chunk_index": self.chunk_index,
            "embedder": self.embedder,
            "acl_users": self.acl_users,
            "acl_groups": self.acl_groups,
            "acl_public": self.acl_public,
            "meta": self.meta,
        }
        if self.updated_at is not None:
            props["updated_at"] = self.updated_at
        return props


@dataclass(frozen=True)
class Hit:
    """A chunk found by a query, with its fused score."""

    chunk_id: str
    doc_id: str
    text: str
    title: str
    heading: str
    url: str
    source: str
    chunk_index: int
    score: float
    # Cosine similarity of query and chunk (absolute, unlike the fused score); None without one.
    similarity: float | None = None
    acl_users: tuple[str, ...] = ()
    acl_groups: tuple[str, ...] = ()
    acl_public: bool = True

    @property
    def label(self) -> str:
        """Title and heading path, without repeating a title that is also the first heading."""
        if not self.heading or self.heading.split(" > ")[0] == self.title:
            return self.heading or self.title
        return f"{self.title} > {self.heading}"


def _unavailable(settings: Settings) -> ServiceUnavailable:
    hint = (
        "Check the URL and API key (KNOWHERE_WEAVIATE_URL, KNOWHERE_WEAVIATE_API_KEY)."
        if settings.weaviate_url
        else "Start the local one with `knowhere services up`."
    )
    return ServiceUnavailable("Weaviate", settings.weaviate_endpoint(), hint)


def connect(settings: Settings) -> weaviate.WeaviateClient:
    """Connect to the configured Weaviate; a clear error names the URL if it is down."""
    timeout = AdditionalConfig(timeout=Timeout(init=5, query=60, insert=180))
    try:
        if settings.weaviate_url:
            http = urlparse(settings.weaviate_url)
            grpc = urlparse(settings.weaviate_grpc_url or "")
            secure = http.scheme == "https"
            key = settings.weaviate_api_key
            return weaviate.connect_to_custom(
                http_host=http.hostname or "localhost",
                http_port=http.port or (443 if secure else 80),
                http_secure=secure,
                grpc_host=grpc.hostname or http.hostname or "localhost",
                grpc_port=grpc.port or 50051,
                grpc_secure=(grpc.scheme == "https") if grpc.scheme else secure,
                auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
                additional_config=timeout,
            )
        return weaviate.connect_to_local(
            host="127.0.0.1",
            port=settings.weaviate_http_port,
            grpc_port=settings.weaviate_grpc_port,
            additional_config=timeout,
        )
    except WeaviateBaseError as err:
        raise _unavailable(settings) from err


def _describe(embedder: str, dimension: int) -> str:
    return f"knowhere chunks; embedder={embedder}; dim={dimension}"


def _parse_description(description: str | None) -> dict[str, str]:
    fields = {}
    for part in (description or "").split(";"):
        key, _, value = part.strip().partition("=")
        if value:
            fields[key] = value
    return fields


# Descriptive metadata of the chunk's document as JSON: returned, neither searched nor filtered.
META_PROPERTY = Property(
    name="meta",
    data_type=DataType.TEXT,
    index_searchable=False,
    index_filterable=False,
)


def create_collection(
    client: weaviate.WeaviateClient, name: str, embedder: str, dimension: int
) -> None:
    """A chunk collection with the explicit schema, recording the embedder that fills it."""
    text = DataType.TEXT
    client.collections.create(
        name,
        description=_describe(embedder, dimension),
        vector_config=Configure.Vectors.self_provided(
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
        ),
        properties=[
            Property(name="text", data_type=text, tokenization=Tokenization.WORD),
            Property(name="title", data_type=text, tokenization=Tokenization.WORD),
            Property(name="heading", data_type=text, tokenization=Tokenization.WORD),
            Property(
                name="url",
                data_type=text,
                tokenization=Tokenization.FIELD,
                index_searchable=False,
            ),
            Property(name="source", data_type=text, tokenization=Tokenization.FIELD),
            Property(name="doc_id", data_type=text, tokenization=Tokenization.FIELD),
            Property(name="chunk_index", data_type=DataType.INT),
            Property(name="updated_at", data_type=DataType.DATE),
            Property(name="embedder", data_type=text, tokenization=Tokenization.FIELD),
            # Access control, filled by connectors that know page/ticket permissions.
            Property(
                name="acl_users", data_type=DataType.TEXT_ARRAY, tokenization=Tokenization.FIELD
            ),
            Property(
                name="acl_groups",
                data_type=DataType.TEXT_ARRAY,
                tokenization=Tokenization.FIELD,
            ),
            Property(name="acl_public", data_type=DataType.BOOL),
            META_PROPERTY,
        ],
    )


def generation_name(alias: str, embedder: str) -> str:
    """The concrete collection name for `alias` filled by `embedder` (a version string)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", embedder).strip("_")
    return f"{alias}_{slug}"[:200]


class ChunkStore:
    """One Weaviate collection of chunks, created with an explicit schema."""

    def __init__(self, client: weaviate.WeaviateClient, name: str) -> None:
        self.client = client
        self.name = name
        self.collection = client.collections.use(name)

    def ensure(self, embedder_name: str, dimension: int, known: Collection[str] = ()) -> None:
        """Create the collection if missing; refuse one built with a different model.

        A new collection is created under a generation name and reached through an alias
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
        generation = generation_name(self.name, embedder_name)
        create_collection(self.client, generation, embedder_name, dimension)
        try:
            self.client.alias.create(alias_name=self.name, target_collection=generation)
        except WeaviateBaseError:
            if self.client.alias.get(alias_name=self.name) is None:  # not a concurrent ensure()
                raise

    def _add_missing_properties(self) -> None:
        """Collections created by an older version lack later properties: add them."""
        present = {p.name for p in self.collection.config.get().properties}
        if META_PROPERTY.name not in present:
            with suppress(WeaviateBaseError):  # added concurrently by another process
                self.collection.config.add_property(META_PROPERTY)

    def embedder_version(self) -> str:
        """The embedder version recorded when the collection was created."""
        config = self.collection.config.get()
        return _parse_description(config.description).get("embedder", "")

    def target(self) -> str:
        """The concrete collection behind this name (the name itself when it is no alias)."""
        alias = self.client.alias.get(alias_name=self.name)
        return alias.collection if alias is not None else self.name

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Write chunks (same id overwrites). Raises if Weaviate rejected any object."""
        for batch in _slices(list(chunks), WRITE_BATCH):
            objects = [
                DataObject(uuid=c.id, properties=c.properties(), vector=c.vector) for c in batch
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

    def chunk_ids_of(self, doc_ids: Iterable[str]) -> dict[str, set[str]]:
        """Ids of the stored chunks of each of `doc_ids`."""
        wanted = list(doc_ids)
        found: dict[str, set[str]] = {d: set() for d in wanted}
        for part in _slices(wanted, DOCS_PER_QUERY):
            response = self.collection.query.fetch_objects(
                filters=Filter.by_property("doc_id").contains_any(part),
                limit=MAX_RESULTS,
                return_properties=["doc_id"],
            )
            if len(response.objects) == MAX_RESULTS:
                raise StoreError(
                    f"more than {MAX_RESULTS} chunks for documents {part[:3]}… in '{self.name}'"
                )
            for obj in response.objects:
                found[str(obj.properties["doc_id"])].add(str(obj.uuid))
        return found

    def delete_ids(self, ids: Iterable[str]) -> int:
        return sum(
            self._delete_where(Filter.by_id().contains_any(part))
            for part in _slices(list(ids), 1000)
        )

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        return sum(
            self._delete_where(Filter.by_property("doc_id").contains_any(part))
            for part in _slices(list(doc_ids), DOCS_PER_QUERY)
        )

    def _delete_where(self, where: Any) -> int:
        return int(self.collection.data.delete_many(where=where).successful)

    def count(self) -> int:
        return int(self.collection.aggregate.over_all(total_count=True).total_count or 0)

    def query(
        self,
        text: str,
        vector: list[float] | None,
        limit: int,
        mode: SearchMode = "hybrid",
        alpha: float = 0.8,
        filters: Any = None,
    ) -> list[Hit]:
        """Hybrid (relative-score fusion; alpha 1 = vector only), vector or BM25 search."""
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
                response = query.bm25(query=text, query_properties=SEARCHABLE, **common)
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
            hits.append(_hit(obj, score, _similarity(query_vector, obj.vector)))
        return hits

    def page(self, after: str | None = None, limit: int = WRITE_BATCH) -> list[Chunk]:
        """Stored chunks in id order after `after`, without vectors: a resumable scan."""
        try:
            response = self.collection.query.fetch_objects(
                after=after, limit=limit, return_properties=STORED
            )
        except WeaviateBaseError as err:
            raise StoreError(f"reading collection '{self.name}' failed: {err}") from err
        return [_stored_chunk(obj) for obj in response.objects]

    def scan(self, after: str | None = None, limit: int = WRITE_BATCH) -> Iterator[Chunk]:
        """Every stored chunk (without vector), in id order."""
        while True:
            page = self.page(after, limit)
            yield from page
            if len(page) < limit:
                return
            after = page[-1].id

    def fetch(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """The stored chunks with these ids (missing ones are left out)."""
        found: list[Hit] = []
        for part in _slices(list(chunk_ids), 1000):
            response = self.collection.query.fetch_objects(
                filters=Filter.by_id().contains_any(part),
                limit=len(part),
                return_properties=RETURNED,
            )
            found.extend(_hit(obj, 0.0, None) for obj in response.objects)
        return found


def _similarity(query: np.ndarray | None, vectors: Any) -> float | None:
    if query is None or not vectors:
        return None
    stored = np.asarray(vectors.get("default", next(iter(vectors.values()))), dtype=np.float32)
    norm = float(np.linalg.norm(query) * np.linalg.norm(stored))
    return float(query @ stored / norm) if norm else None


def _stored_chunk(obj: Any) -> Chunk:
    props = obj.properties
    updated = props.get("updated_at")
    return Chunk(
        id=str(obj.uuid),
        doc_id=str(props.get("doc_id", "")),
        text=str(props.get("text", "")),
        vector=[],
        title=str(props.get("title", "")),
        heading=str(props.get("heading", "") or ""),
        url=str(props.get("url", "")),
        source=str(props.get("source", "")),
        chunk_index=int(str(props.get("chunk_index") or 0)),
        updated_at=updated if isinstance(updated, datetime) else None,
        embedder=str(props.get("embedder", "")),
        acl_users=list(props.get("acl_users") or ()),
        acl_groups=list(props.get("acl_groups") or ()),
        acl_public=props.get("acl_public") is not False,
        meta=str(props.get("meta") or ""),
    )


def _hit(obj: Any, score: float, similarity: float | None) -> Hit:
    props = obj.properties
    return Hit(
        chunk_id=str(obj.uuid),
        doc_id=str(props.get("doc_id", "")),
        text=str(props.get("text", "")),
        title=str(props.get("title", "")),
        heading=str(props.get("heading", "") or ""),
        url=str(props.get("url", "")),
        source=str(props.get("source", "")),
        chunk_index=int(str(props.get("chunk_index") or 0)),
        score=score,
        similarity=similarity,
        acl_users=tuple(props.get("acl_users") or ()),
        acl_groups=tuple(props.get("acl_groups") or ()),
        acl_public=props.get("acl_public") is not False,
    )
