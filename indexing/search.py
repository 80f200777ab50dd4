"""Retrieval: embed the query with the collection's model, then hybrid search in Weaviate."""

from __future__ import annotations

from typing import Any

from .embedding import SentenceEmbedder
from .live import LiveIndex
from .store import ChunkStore, Hit, SearchMode


class Retriever:
    """Query text in, ranked chunks out."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: SentenceEmbedder,
        alpha: float,
        live: LiveIndex | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.alpha = alpha
        # With a live index, each query goes to the collection serving now, embedded by the
        # model that filled it; `store` and `embedder` are then only the starting point.
        self.live = live

    def current(self) -> tuple[ChunkStore, SentenceEmbedder]:
        if self.live is None:
            return self.store, self.embedder
        generation = self.live.current()
        return generation.store, generation.embedder

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        alpha: float | None = None,
        filters: Any = None,
    ) -> list[Hit]:
        alpha = self.alpha if alpha is None else alpha
        query = query.strip()
        if not query:
            return []
        store, embedder = self.current()
        vector = None if mode == "bm25" else embedder.get_query_embedding(query)
        if mode == "hybrid" and alpha >= 1.0:
            mode = "vector"
        elif mode == "hybrid" and alpha <= 0.0:
            mode = "bm25"
        return store.query(query, vector, top_k, mode=mode, alpha=alpha, filters=filters)


# Hybrid weight chosen on zaragoza/dev by benchmarks/retrieval_quality.py (nDCG@10).
TUNED_ALPHA = {"all-mpnet-base-v2": 0.95, "all-minilm-l6-v2": 0.75}
DEFAULT_ALPHA = 0.8


# Query-passage cosine below which a passage is not relevant (benchmarks/relevance_threshold.py).
MIN_RELEVANCE = {"all-mpnet-base-v2": 0.3, "all-minilm-l6-v2": 0.3}
DEFAULT_MIN_RELEVANCE = 0.3


def _base_name(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1].split("@")[0].lower()


def default_alpha(model: str) -> float:
    """The tuned hybrid weight for a model (by its base name), else a dense-leaning default."""
    return TUNED_ALPHA.get(_base_name(model), DEFAULT_ALPHA)


def default_min_relevance(model: str) -> float:
    return MIN_RELEVANCE.get(_base_name(model), DEFAULT_MIN_RELEVANCE)
