"""Retrieval: embed the query with the collection's model, then hybrid search in Weaviate."""

from __future__ import annotations

from typing import Any

from .embedding import SentenceEmbedder
from .store import ChunkStore, Hit, SearchMode


class Retriever:
    """Query text in, ranked chunks out."""

    def __init__(self, store: ChunkStore, embedder: SentenceEmbedder) -> None:
        self.store = store
        self.embedder = embedder

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        alpha: float = 0.8,
        filters: Any = None,
    ) -> list[Hit]:
        query = query.strip()
        if not query:
            return []
        vector = None if mode == "bm25" else self.embedder.get_query_embedding(query)
        if mode == "hybrid" and alpha >= 1.0:
            mode = "vector"
        elif mode == "hybrid" and alpha <= 0.0:
            mode = "bm25"
        return self.store.query(query, vector, top_k, mode=mode, alpha=alpha, filters=filters)
