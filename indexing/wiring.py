"""Build the core objects from Settings: embedder, store, indexer, retriever."""

from __future__ import annotations

import functools
from pathlib import Path

import weaviate

from . import models
from .chunking import StructuredChunker
from .dochashes import DocHashStore, connect_redis
from .embedding import SentenceEmbedder
from .pipeline import IndexReport, Indexer
from .reading import scan_folder
from .search import Retriever
from .settings import Settings
from .store import ChunkStore, connect


@functools.cache
def _load_embedder(name: str, path: str, precision: str, batch_size: int) -> SentenceEmbedder:
    return SentenceEmbedder(name, path, precision=precision, batch_size=batch_size)  # type: ignore[arg-type]


def build_embedder(settings: Settings, model: str | None = None) -> SentenceEmbedder:
    """The configured embedder (loaded once per process and model)."""
    name = model or settings.embed_model
    path = models.resolve(name, settings.models_dir)
    return _load_embedder(name, path, settings.embed_precision, settings.embed_batch_size)


def build_chunker(settings: Settings, embedder: SentenceEmbedder) -> StructuredChunker:
    # Leave room for the "title: …\nheading: …" prefix inside the model's window.
    size = max(64, min(settings.chunk_size, embedder.max_seq_length - 64))
    tokenizer = embedder.tokenizer

    def count_tokens(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    return StructuredChunker(size, min(settings.chunk_overlap, size // 4), tokenizer=count_tokens)


def open_store(
    client: weaviate.WeaviateClient, settings: Settings, embedder: SentenceEmbedder,
    collection: str | None = None,
) -> ChunkStore:
    store = ChunkStore(client, collection or settings.collection)
    store.ensure(embedder.version, embedder.dimension)
    return store


def build_indexer(
    client: weaviate.WeaviateClient,
    settings: Settings,
    source: str,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Indexer:
    store = open_store(client, settings, embedder, collection)
    hashes = DocHashStore(connect_redis(settings.redis_url), store.name, source)
    return Indexer(store, hashes, embedder, build_chunker(settings, embedder))


def build_retriever(
    client: weaviate.WeaviateClient, settings: Settings, embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Retriever:
    return Retriever(open_store(client, settings, embedder, collection), embedder)


def index_folder(
    settings: Settings, folder: Path, source: str | None = None, progress=None, total=None
) -> IndexReport:
    """Index every supported file below `folder` as one source (files gone are pruned)."""
    folder = folder.resolve()
    source = source or folder.name
    embedder = build_embedder(settings)
    connect_redis(settings.redis_url)  # fail fast, before any work, if Redis is down
    scan = scan_folder(folder, source, settings.max_file_bytes)
    if total:
        total(len(scan.documents))
    with connect(settings) as client:
        indexer = build_indexer(client, settings, source, embedder)
        report = indexer.index(scan.documents, prune=True, progress=progress)
    report.skipped = scan.skipped
    return report
