"""A document's identity and the fingerprint that tells whether it changed.

Documents are LlamaIndex `Document`s whatever their source. The id is the source's name and
the document's path inside it; the fingerprint hashes the text and the metadata that
identify its content and who may read it, never volatile fields (a file's mtime), so touching
a file costs nothing.
"""

from __future__ import annotations

import hashlib
import json

from llama_index.core import Document

HASHED_METADATA = ("title", "url", "source", "path")
ACCESS_KEY = "access"  # the document's access list (`Access.to_dict()`); absent: public


def document_id(source: str, relative_path: str) -> str:
    """Stable id of a document: the source name and the path inside the source."""
    return f"{source}:{relative_path}"


def content_hash(document: Document) -> str:
    """A hash of the text, the identifying metadata and the access list of a document."""
    digest = hashlib.sha256(document.text.encode("utf-8"))
    for key in HASHED_METADATA:
        digest.update(f"\x00{key}={document.metadata.get(key, '')}".encode())
    access = document.metadata.get(ACCESS_KEY)
    if access is not None:
        digest.update(f"\x00{ACCESS_KEY}={json.dumps(access, sort_keys=True)}".encode())
    return digest.hexdigest()
