"""Structure-aware chunking: split at headings, then by size, keeping the heading path.

Each chunk gets a deterministic id (uuid5 of document id and chunk position), so a retried
or repeated run overwrites the same Weaviate objects instead of duplicating them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter
from llama_index.core.schema import (
    BaseNode,
    Document,
    MetadataMode,
    NodeRelationship,
    TextNode,
    TransformComponent,
)
from pydantic import PrivateAttr

from .documents import ACCESS_KEY

CHUNK_NAMESPACE = uuid.UUID("6f1d7f0e-3c55-4d0a-9a55-6b6e6f776865")
HEADING_SEPARATOR = " > "
# Only these reach the embedding text (as "title: …\nheading: …"); the rest is bookkeeping.
EMBEDDED_METADATA = ("title", "heading")
# Document metadata kept with every chunk, as JSON in its `meta` property.
DESCRIPTIVE_KEYS = (
    "format",
    "space",
    "space_name",
    "breadcrumb",
    "author",
    "version",
    "labels",
    "page_id",
    "ticket_id",
    "status",
    "resolution",
    "created_at",
    "resolved_at",
)


def embedding_text(title: str, heading: str, text: str) -> str:
    """What the embedder sees for a chunk: its title and heading, then its text."""
    node = TextNode(text=text, metadata={"title": title, "heading": heading})
    return node.get_content(metadata_mode=MetadataMode.EMBED)


def chunk_id(doc_id: str, index: int) -> str:
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}#{index}"))


def _sections(document: Document, parser: MarkdownNodeParser) -> list[tuple[str, str]]:
    """(heading path, section text) pairs; plain text is one section without heading."""
    if document.metadata.get("format") not in ("markdown", "html"):
        return [("", document.text)]
    sections = []
    for node in parser.get_nodes_from_documents([document]):
        text = node.get_content()
        parents = [p for p in str(node.metadata.get("header_path", "")).split("/") if p]
        first, _, rest = text.partition("\n")
        if first.lstrip().startswith("#"):
            parents.append(first.lstrip("# ").strip())
            text = rest
        if text.strip():
            sections.append((HEADING_SEPARATOR.join(parents), text.strip()))
    return sections or [("", document.text)]


class StructuredChunker(TransformComponent):
    """Documents in, TextNodes out: one per heading section, split further to `chunk_size`."""

    chunk_size: int = 256
    chunk_overlap: int = 32
    _splitter: SentenceSplitter = PrivateAttr()
    _markdown: MarkdownNodeParser = PrivateAttr()

    def __init__(
        self,
        chunk_size: int = 256,
        chunk_overlap: int = 32,
        tokenizer: Callable[[str], list[Any]] | None = None,
    ) -> None:
        super().__init__(chunk_size=chunk_size, chunk_overlap=chunk_overlap)  # type: ignore[call-arg]
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenizer
        )
        self._markdown = MarkdownNodeParser()

    def chunk(self, document: Document) -> list[TextNode]:
        nodes: list[TextNode] = []
        described = {k: document.metadata[k] for k in DESCRIPTIVE_KEYS if k in document.metadata}
        descriptive = json.dumps(described, sort_keys=True) if described else ""
        for heading, text in _sections(document, self._markdown):
            for piece in self._splitter.split_text(text):
                index = len(nodes)
                metadata = {
                    key: document.metadata.get(key, "")
                    for key in ("title", "url", "source", "updated_at")
                }
                metadata.update(
                    heading=heading, doc_id=document.id_, chunk_index=index, meta=descriptive
                )
                if ACCESS_KEY in document.metadata:
                    metadata[ACCESS_KEY] = document.metadata[ACCESS_KEY]
                node = TextNode(
                    id_=chunk_id(document.id_, index),
                    text=piece,
                    metadata=metadata,
                    excluded_embed_metadata_keys=[
                        k for k in metadata if k not in EMBEDDED_METADATA
                    ],
                    excluded_llm_metadata_keys=[k for k in metadata if k not in EMBEDDED_METADATA],
                )
                node.relationships[NodeRelationship.SOURCE] = document.as_related_node_info()
                nodes.append(node)
        return nodes

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        chunks: list[BaseNode] = []
        for node in nodes:
            if isinstance(node, Document):
                chunks.extend(self.chunk(node))
            else:
                chunks.append(node)
        return chunks
