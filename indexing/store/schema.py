"""The chunk collection's explicit schema: properties, the embedder it records, and names.

The schema is created by us, not by auto-schema, so every property has the tokenization and
indexes it needs; LlamaIndex's `WeaviateVectorStore` reads the same collection (`text` is its
text key, the other properties come back as node metadata).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import weaviate
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    ReplicationDeletionStrategy,
    Tokenization,
    VectorDistances,
)

from ..access.model import PUBLIC, Access, Clause
from ..errors import StoreError
from .chunk import Chunk, Hit

NOBODY = Access((Clause(),))  # a clause that lets nobody in

TEXT_KEY = "text"
SEARCHABLE = ["text", "title", "heading"]

# Access lists: `acl_public`, and `acl_id`: PUBLIC_ID, or the id of the chunk's list in
# `access_lists` (what the filter asks for), plus the list itself to read back and check
# again on every hit: one property per clause position holding "u:<user>" and "g:<group>"
# tokens (a chunk with fewer clauses repeats its first one: the same condition twice is the
# same condition; a clause that names nobody holds NO_READER).
MAX_CLAUSES = 6
CLAUSE_PROPERTIES = [f"acl_{i}" for i in range(MAX_CLAUSES)]
NO_READER = "!"
PUBLIC_ID = "public"  # the `acl_id` of a public chunk: the filter is one condition, no OR
ACCESS_PROPERTIES = ["acl_public", "acl_id", *CLAUSE_PROPERTIES]
RETURNED = [
    "text",
    "title",
    "heading",
    "url",
    "source",
    "doc_id",
    "chunk_index",
    "updated_at",
    "meta",
    *ACCESS_PROPERTIES,
]
INDEXED_AS = ["content_hash", "chunking"]
STORED = [*RETURNED, "embedder", *INDEXED_AS]
# What describes a chunk without its text: where it is from, who may read it, what it was.
DESCRIBED = ["doc_id", "title", "url", "source", "meta", "content_hash", *ACCESS_PROPERTIES]
# What a chunk records of its document's indexing (read to rebuild that record).
RECORD = ["doc_id", "source", "chunk_index", *ACCESS_PROPERTIES, "meta", *INDEXED_AS]


def clause_property(position: int) -> Property:
    return Property(
        name=CLAUSE_PROPERTIES[position],
        data_type=DataType.TEXT_ARRAY,
        tokenization=Tokenization.FIELD,
        index_searchable=False,
        index_filterable=False,  # read back only; the filter asks for acl_id
    )


ACCESS_ID_PROPERTY = Property(
    name="acl_id",
    data_type=DataType.TEXT,
    tokenization=Tokenization.FIELD,
    index_searchable=False,
)


# Descriptive metadata of the chunk's document as JSON: returned, neither searched nor filtered.
META_PROPERTY = Property(
    name="meta",
    data_type=DataType.TEXT,
    index_searchable=False,
    index_filterable=False,
)


# What a chunk's document was indexed as (content hash, chunking fingerprint): read back only.
INDEXED_AS_PROPERTIES = [
    Property(
        name=name,
        data_type=DataType.TEXT,
        tokenization=Tokenization.FIELD,
        index_searchable=False,
        index_filterable=False,
    )
    for name in INDEXED_AS
]


def describe(embedder: str, dimension: int) -> str:
    return f"knowhere chunks; embedder={embedder}; dim={dimension}"


def parse_description(description: str | None) -> dict[str, str]:
    fields = {}
    for part in (description or "").split(";"):
        key, _, value = part.strip().partition("=")
        if value:
            fields[key] = value
    return fields


def create_collection(
    client: weaviate.WeaviateClient,
    name: str,
    embedder: str,
    dimension: int,
    replication: int = 1,
) -> None:
    """A chunk collection with the explicit schema, recording the embedder that fills it, its
    shards kept on `replication` nodes (reads and writes at QUORUM by default: with 3, one node
    may be down)."""
    text = DataType.TEXT
    client.collections.create(
        name,
        description=describe(embedder, dimension),
        replication_config=Configure.replication(
            factor=replication,
            # A delete on a node that missed it while down must not come back through repair.
            deletion_strategy=ReplicationDeletionStrategy.DELETE_ON_CONFLICT,
        ),
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
            Property(name="acl_public", data_type=DataType.BOOL),
            ACCESS_ID_PROPERTY,
            *(clause_property(i) for i in range(MAX_CLAUSES)),
            META_PROPERTY,
            *INDEXED_AS_PROPERTIES,
        ],
    )


def collection_name(index: str, embedder: str) -> str:
    """The concrete collection behind index (alias) `index` filled by `embedder` (a version)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", embedder).strip("_")
    return f"{index}_{slug}"[:200]


def access_properties(access: Access) -> dict[str, Any]:
    """An access list as the collection stores it (StoreError beyond MAX_CLAUSES clauses)."""
    if len(access.clauses) > MAX_CLAUSES:
        raise StoreError(
            f"{len(access.clauses)} access clauses (restricted levels): at most {MAX_CLAUSES} "
            "can be stored, so this document is not indexed"
        )
    props: dict[str, Any] = {
        "acl_public": access.public,
        "acl_id": PUBLIC_ID if access.public else access.fingerprint(),
    }
    for position, name in enumerate(CLAUSE_PROPERTIES):
        if access.public:
            props[name] = []
            continue
        clause = access.clauses[position if position < len(access.clauses) else 0]
        users = [f"u:{u}" for u in sorted(clause.users)]
        props[name] = users + [f"g:{g}" for g in sorted(clause.groups)] or [NO_READER]
    return props


def stored_access(props: dict[str, Any]) -> Access:
    """The access list of stored properties. Whatever cannot be read back is closed: a chunk
    written before clauses existed, and not yet rewritten, reads as public only if it was."""
    if props.get("acl_public") is True:
        return PUBLIC
    clauses = []
    for name in CLAUSE_PROPERTIES:
        tokens = props.get(name)
        if not tokens:
            return NOBODY  # no clause data (an older chunk): nobody, until it is rewritten
        users = [t[2:] for t in tokens if t.startswith("u:")]
        groups = [t[2:] for t in tokens if t.startswith("g:")]
        clauses.append(Clause.of(users, groups))
    return Access(tuple(clauses))


def chunk_properties(chunk: Chunk) -> dict[str, Any]:
    props: dict[str, Any] = {
        "text": chunk.text,
        "title": chunk.title,
        "heading": chunk.heading,
        "url": chunk.url,
        "source": chunk.source,
        "doc_id": chunk.doc_id,
        "chunk_index": chunk.chunk_index,
        "embedder": chunk.embedder,
        **access_properties(chunk.access),
        "meta": chunk.meta,
        "content_hash": chunk.content_hash,
        "chunking": chunk.chunking,
    }
    if chunk.updated_at is not None:
        props["updated_at"] = chunk.updated_at
    return props


def stored_chunk(obj: Any) -> Chunk:
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
        access=stored_access(props),
        meta=str(props.get("meta") or ""),
        content_hash=str(props.get("content_hash") or ""),
        chunking=str(props.get("chunking") or ""),
    )


def updated_by(meta: str) -> str:
    """Who last changed a chunk's document, from its metadata JSON: a page's last editor; ""
    when the source does not say (tickets name people only as pseudonyms) or the JSON cannot
    be read."""
    try:
        fields = json.loads(meta) if meta else {}
    except ValueError:
        return ""
    if not isinstance(fields, dict):
        return ""
    return str(fields.get("author") or "")


def stored_hit(obj: Any, score: float, similarity: float | None) -> Hit:
    props = obj.properties
    updated = props.get("updated_at")
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
        access=stored_access(props),
        updated_at=updated if isinstance(updated, datetime) else None,
        updated_by=updated_by(str(props.get("meta") or "")),
    )
