"""A document's identity, and the fingerprints that tell whether it changed.

Documents are LlamaIndex `Document`s whatever their source. The id is the source's name and
the document's path inside it. Fingerprints: the content hash covers the text and the
metadata that identify it, never volatile fields (a file's mtime), so touching a file costs
nothing; the access fingerprint covers who may read it, so a permission change rewrites the
chunks' access lists in place instead of embedding them again. The chunking fingerprint is
that of the chunker's settings: changing them chunks the documents chunked otherwise again.
"""

from __future__ import annotations

import hashlib

from llama_index.core import Document

from ..access.model import Access
from ..store.hashes import Indexed

HASHED_METADATA = ("title", "url", "source", "path")
ACCESS_KEY = "access"  # the document's access list (`Access.to_dict()`); absent: public


def document_id(source: str, relative_path: str) -> str:
    """Stable id of a document: the source name and the path inside the source."""
    return f"{source}:{relative_path}"


def content_hash(document: Document) -> str:
    """A hash of the text and the identifying metadata of a document."""
    digest = hashlib.sha256(document.text.encode("utf-8"))
    for key in HASHED_METADATA:
        digest.update(f"\x00{key}={document.metadata.get(key, '')}".encode())
    return digest.hexdigest()


def access_of(document: Document) -> Access:
    """Who may read the document (no access list: public)."""
    return Access.from_dict(document.metadata.get(ACCESS_KEY))


def indexed_version(document: Document, chunking: str) -> Indexed:
    """What indexing this document with chunking settings `chunking` (their fingerprint)
    records: its content hash, access fingerprint and that chunking fingerprint."""
    return Indexed(content_hash(document), access_of(document).fingerprint(), chunking)
