"""Retrieval: embed the query with the serving collection's model, then search in Weaviate.

A search says which embedder produced its hits and hands back the query's vector, so the
answer records the version that really served it and nothing embeds the question twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..access.model import PUBLIC_ONLY, Audience
from ..embedding.embedder import EmbeddedQuery, SentenceEmbedder
from ..store.access_lists import AccessCatalog
from ..store.alias import IndexAlias
from ..store.chunk import Hit
from ..store.chunk_store import ChunkStore, SearchMode
from ..store.filters import audience_filter
from .exact_terms import exact_terms, put_first, rare_holders
from .fusion_weight import AlphaChoices

# Chunks a BM25 lookup of one exact term reads to tell whether the term is rare.
TERM_LOOKUP = 20


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits, the embedder version whose vectors they were found with, and the query
    as embedded (None for BM25, which embeds nothing)."""

    hits: list[Hit]
    embedder: str
    query: EmbeddedQuery | None = None


class Retriever:
    """Query text in, ranked chunks out, only those the audience may read."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: SentenceEmbedder,
        alpha: float,
        alias: IndexAlias | None = None,
        catalog: AccessCatalog | None = None,
        chosen: AlphaChoices | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        # The α when the serving collection has none chosen from its questions (`chosen`).
        self.alpha = alpha
        self.chosen = chosen
        # Which access lists an audience may read (None: public chunks only for everyone).
        self.catalog = catalog
        # With an alias, each query goes to the collection serving now, embedded by the
        # model that filled it; `store` and `embedder` are then only the starting point.
        self.alias = alias

    def current(self) -> tuple[ChunkStore, SentenceEmbedder]:
        if self.alias is None:
            return self.store, self.embedder
        serving = self.alias.current()
        return serving.store, serving.embedder

    def alpha_for(self, store: ChunkStore) -> float:
        """The hybrid weight chosen for this collection (by its own name, not an alias's:
        the serving collection from `current()`), else the default."""
        chosen = self.chosen.alpha_of(store.name) if self.chosen else None
        return self.alpha if chosen is None else chosen

    def search(
        self,
        query: str,
        top_k: int = 5,
        audience: Audience = PUBLIC_ONLY,
        mode: SearchMode = "hybrid",
        alpha: float | None = None,
        embedded: EmbeddedQuery | None = None,
    ) -> SearchResult:
        """The `top_k` best chunks every member of `audience` may read: filtered in Weaviate,
        and checked again here. `embedded` (the same query, embedded by an earlier search) is
        used when the serving model made it, instead of embedding the query again."""
        store, embedder = self.current()
        if alpha is None:
            alpha = self.alpha_for(store)
        query = query.strip()
        if not query:
            return SearchResult([], embedder.version)
        reusable = embedded and embedded.text == query and embedded.embedder == embedder.version
        if mode == "bm25":
            embedded = None
        elif not reusable:
            embedded = embedder.embed_query(query)
        # Exact terms are looked up whenever the question was asked with its words (hybrid or
        # BM25), also when the collection's α makes the hybrid query a vector one.
        with_words = mode != "vector"
        if mode == "hybrid" and alpha >= 1.0:
            mode = "vector"
        elif mode == "hybrid" and alpha <= 0.0:
            mode = "bm25"
        vector = embedded.vector if embedded else None
        lists = self.catalog.readable(audience) if self.catalog and audience.principals else []
        filters = audience_filter(audience, lists)
        hits = store.query(query, vector, top_k, mode=mode, alpha=alpha, filters=filters)
        if with_words:
            hits = self._rare_terms_first(store, query, hits, top_k, filters)
        readable = [h for h in hits if audience.may_read(h.access)]
        return SearchResult(readable, embedder.version, embedded)

    def _rare_terms_first(
        self, store: ChunkStore, query: str, hits: list[Hit], top_k: int, filters: object
    ) -> list[Hit]:
        """The chunks holding a rare exact term of the query first, in the order the search
        ranked them (then BM25's), then the other hits."""
        first: list[Hit] = []
        for term in exact_terms(query):
            found = store.query(
                term, None, TERM_LOOKUP, mode="bm25", all_terms=True, filters=filters
            )
            first += rare_holders(term, found)
        if not first:
            return hits
        position = {h.chunk_id: i for i, h in enumerate(hits)}
        first.sort(key=lambda h: position.get(h.chunk_id, len(hits)))
        return put_first(first, hits, top_k)
