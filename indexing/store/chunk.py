"""What the index holds: a chunk to store, and a chunk found by a query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..access.model import PUBLIC, Access


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
    access: Access = PUBLIC
    meta: str = ""  # JSON of the document's descriptive metadata (space, labels, version…)
    # What its document was indexed as: content hash and chunking fingerprint, so the record
    # of what is indexed can be rebuilt from the collection when Redis has lost it.
    content_hash: str = ""
    chunking: str = ""


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
    access: Access = PUBLIC
    updated_at: datetime | None = None  # when its document last changed, when the source says
    updated_by: str = ""  # who changed it last (a Confluence page's last editor)

    @property
    def label(self) -> str:
        """Title and heading path, without repeating a title that is also the first heading."""
        if not self.heading or self.heading.split(" > ")[0] == self.title:
            return self.heading or self.title
        return f"{self.title} > {self.heading}"
