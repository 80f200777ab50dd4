"""Knowhere behind LlamaIndex's own interfaces, for people who bring their own query engine.

- `KnowhereRetriever` is a LlamaIndex `BaseRetriever`: the same hybrid search and access
  rule as the bots (one audience per retriever), returning `NodeWithScore`s whose metadata
  says where each passage comes from.
- `open_vector_store` opens an index as LlamaIndex's `WeaviateVectorStore` (text key `text`,
  the other properties as node metadata). It is read-only in spirit: Knowhere writes the
  index itself (deterministic ids, checked batch errors, alias switches, see PITFALLS.md),
  and the store applies no access rule unless given one: pass
  `filters=audience_filter(audience, catalog.readable(audience))` to its `query` (the
  catalog: `indexing.compose.access_catalog(settings)`; the store's own `filter=` keyword is
  also handed on to Weaviate's `hybrid()`, which refuses it, in 1.7.x), or use
  `KnowhereRetriever`.
"""

from __future__ import annotations

import weaviate
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.vector_stores.weaviate import WeaviateVectorStore

from ..access.model import PUBLIC_ONLY, Audience
from ..store.chunk import Hit
from ..store.schema import TEXT_KEY
from .retriever import Retriever


def hit_node(hit: Hit) -> NodeWithScore:
    """A search hit as a LlamaIndex node (id = the chunk's id in Weaviate) with its score."""
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata={
            "doc_id": hit.doc_id,
            "title": hit.title,
            "heading": hit.heading,
            "url": hit.url,
            "source": hit.source,
            "chunk_index": hit.chunk_index,
            "similarity": hit.similarity,
        },
        excluded_embed_metadata_keys=["doc_id", "url", "source", "chunk_index", "similarity"],
        excluded_llm_metadata_keys=["doc_id", "chunk_index", "similarity"],
    )
    return NodeWithScore(node=node, score=hit.score)


class KnowhereRetriever(BaseRetriever):
    """Hybrid retrieval over a Knowhere index, limited to what `audience` may read."""

    def __init__(
        self, retriever: Retriever, audience: Audience = PUBLIC_ONLY, top_k: int = 5
    ) -> None:
        super().__init__()
        self.retriever = retriever
        self.audience = audience
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        found = self.retriever.search(query_bundle.query_str, self.top_k, self.audience)
        return [hit_node(hit) for hit in found.hits]


def open_vector_store(client: weaviate.WeaviateClient, index: str) -> WeaviateVectorStore:
    """The index `index` (an alias) as a LlamaIndex `WeaviateVectorStore`."""
    return WeaviateVectorStore(weaviate_client=client, index_name=index, text_key=TEXT_KEY)
