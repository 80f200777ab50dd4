"""Structure-aware chunking: split at headings, then by size, keeping the heading path.

Inside a section, paragraphs, lists, tables and fenced code blocks are kept whole and packed
into chunks of about equal size that fit the model's window together with the title and
heading they are embedded with (no small tail left alone); only a block larger than a chunk
is cut, prose at sentences and code at lines. A chunk that only points elsewhere (a list of
links, a table of contents) is not kept: it is not what an answer is made of.

Each chunk gets a deterministic id (uuid5 of document id and chunk position), so a retried
or repeated run overwrites the same Weaviate objects instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
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
from llama_index.core.utils import get_tokenizer
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


# Bump when the chunking itself changes (what a chunk holds, what it embeds): every document
# is then chunked again on its next indexing, as when the chunk size or overlap changes.
CHUNKER_VERSION = 2
# Formats whose text is Markdown by the time it is chunked (HTML files and Confluence storage
# format are converted first), so their headings make the sections.
MARKDOWN_FORMATS = ("markdown", "html", "confluence")
FENCE = re.compile(r"^\s*(```|~~~)")
# Tokens the model adds around every text ([CLS]/[SEP] or <s>/</s>).
SPECIAL_TOKENS = 2
MIN_CHUNK = 64


def chunking_fingerprint(chunk_size: int, chunk_overlap: int) -> str:
    """What the chunks of a document depend on besides its text and model: recorded with each
    indexed document, so changing any of it re-chunks (and re-embeds) the documents chunked
    otherwise, and only those."""
    settings = f"v{CHUNKER_VERSION}:{chunk_size}:{chunk_overlap}:{EMBEDDED_METADATA}"
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def embedding_text(title: str, heading: str, text: str) -> str:
    """What the embedder sees for a chunk: its title and heading, then its text."""
    node = TextNode(text=text, metadata={"title": title, "heading": heading})
    return node.get_content(metadata_mode=MetadataMode.EMBED)


def chunk_id(doc_id: str, index: int) -> str:
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}#{index}"))


def _sections(document: Document, parser: MarkdownNodeParser) -> list[tuple[str, str]]:
    """(heading path, section text) pairs; plain text is one section without heading."""
    if document.metadata.get("format") not in MARKDOWN_FORMATS:
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


LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|<https?://[^>]+>|https?://\S+")
WORD = re.compile(r"[^\W_]{2,}")
# A chunk needs this many words outside links to be content of its own.
OWN_WORDS = 3


def has_own_content(text: str) -> bool:
    """False for text that only points elsewhere: a list of links, a table of contents."""
    links = LINK.findall(text)
    own = WORD.findall(LINK.sub(" ", text))
    return not links or len(own) >= OWN_WORDS and len(own) >= len(links)


def blocks(text: str) -> list[str]:
    """Paragraphs (blank-line separated), each fenced code block whole, blank lines and all."""
    found: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and not line.strip():
            if current:
                found.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        found.append("\n".join(current))
    return found


class StructuredChunker(TransformComponent):
    """Documents in, TextNodes out: one or more per heading section, each of at most
    `chunk_size` tokens and within `window` (the model's) with its title and heading."""

    chunk_size: int = 256
    chunk_overlap: int = 32
    window: int | None = None
    fingerprint: str = ""
    _tokenizer: Callable[[str], list[Any]] = PrivateAttr()
    _markdown: MarkdownNodeParser = PrivateAttr()

    def __init__(
        self,
        chunk_size: int = 256,
        chunk_overlap: int = 32,
        tokenizer: Callable[[str], list[Any]] | None = None,
        fingerprint: str | None = None,
        window: int | None = None,
    ) -> None:
        """`fingerprint`: of the settings these sizes were derived from (default: of these)."""
        super().__init__(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            window=window,
            fingerprint=fingerprint or chunking_fingerprint(chunk_size, chunk_overlap),
        )  # type: ignore[call-arg]
        self._tokenizer = tokenizer or get_tokenizer()
        self._markdown = MarkdownNodeParser()

    def _count(self, text: str) -> int:
        return len(self._tokenizer(text))

    def _budget(self, title: str, heading: str) -> int:
        """Tokens a chunk of this section may hold: the chunk size, or less where the title
        and heading it is embedded with would push it past the model's window."""
        if self.window is None:
            return self.chunk_size
        room = self.window - self._count(embedding_text(title, heading, "")) - SPECIAL_TOKENS
        return max(MIN_CHUNK, min(self.chunk_size, room))

    def _cut(self, block: str, size: int) -> list[str]:
        """A block larger than a chunk: code cut at lines (each part fenced again), prose
        at sentences with the configured overlap."""
        lines = block.split("\n")
        if FENCE.match(lines[0]) and len(lines) > 2:
            fence, body = lines[0], lines[1:-1] if FENCE.match(lines[-1]) else lines[1:]
            parts = self._pack([(line, self._count(line) + 1) for line in body], size - 4, "\n")
            return [f"{fence}\n{part}\n```" for part in parts]
        overlap = min(self.chunk_overlap, size // 4)
        splitter = SentenceSplitter(
            chunk_size=size, chunk_overlap=overlap, tokenizer=self._tokenizer
        )
        return splitter.split_text(block)

    @staticmethod
    def _pack(pieces: list[tuple[str, int]], size: int, joiner: str) -> list[str]:
        """Pieces (text, tokens) packed in order into about equal chunks of at most `size`."""
        total = sum(tokens for _, tokens in pieces)
        target = math.ceil(total / max(1, math.ceil(total / size)))
        chunks: list[tuple[list[str], int]] = []  # texts, tokens
        for text, tokens in pieces:
            if chunks and chunks[-1][1] + tokens <= size and chunks[-1][1] < target:
                chunks[-1] = ([*chunks[-1][0], text], chunks[-1][1] + tokens)
            else:
                chunks.append(([text], tokens))
        # A last chunk far smaller than a chunk joins the one before when both fit together.
        if len(chunks) > 1 and chunks[-1][1] < size // 4 and chunks[-2][1] + chunks[-1][1] <= size:
            last = chunks.pop()
            chunks[-1] = ([*chunks[-1][0], *last[0]], chunks[-1][1] + last[1])
        return [joiner.join(texts) for texts, _ in chunks]

    def split_section(self, text: str, size: int) -> list[str]:
        """A section's text as chunks of at most `size` tokens, blocks kept whole."""
        pieces: list[tuple[str, int]] = []
        for block in blocks(text):
            tokens = self._count(block)
            if tokens <= size:
                pieces.append((block, tokens + 1))
            else:
                pieces.extend((part, self._count(part) + 1) for part in self._cut(block, size))
        return self._pack(pieces, size, "\n\n") if pieces else []

    def chunk(self, document: Document) -> list[TextNode]:
        nodes: list[TextNode] = []
        described = {k: document.metadata[k] for k in DESCRIPTIVE_KEYS if k in document.metadata}
        descriptive = json.dumps(described, sort_keys=True) if described else ""
        title = str(document.metadata.get("title", ""))
        for heading, text in _sections(document, self._markdown):
            pieces = self.split_section(text, self._budget(title, heading))
            for piece in filter(has_own_content, pieces):
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
