"""Read a folder of Markdown, HTML and plain-text files into LlamaIndex Documents."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bs4 import BeautifulSoup
from llama_index.core import Document
from markdownify import markdownify

from .access import access_metadata, load_folder_rules
from .errors import SourceError

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt", ".text", ".rst"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES

# Metadata that identifies a document's content; anything volatile (mtime) stays out of the
# hash so that touching a file does not cause re-embedding.
HASHED_METADATA = ("title", "url", "source", "path")
# Access lists change who may read a document: part of the hash only when set, so documents
# without one keep the hashes they had before access lists existed.
ACCESS_METADATA = ("acl_public", "acl_users", "acl_groups")


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why (shown to the user, never fatal to the batch)."""

    path: Path
    reason: str


@dataclass
class FolderScan:
    """What a folder yielded: documents to index and files that were skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def content_hash(document: Document) -> str:
    """A hash of the text and the identifying metadata of a document."""
    digest = hashlib.sha256(document.text.encode("utf-8"))
    for key in HASHED_METADATA:
        digest.update(f"\x00{key}={document.metadata.get(key, '')}".encode())
    for key in ACCESS_METADATA:
        if key in document.metadata:
            digest.update(f"\x00{key}={document.metadata[key]}".encode())
    return digest.hexdigest()


def document_id(source: str, relative_path: str) -> str:
    """Stable id of a file's document: the source name and the path inside the source."""
    return f"{source}:{relative_path}"


def _iter_candidate_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.is_file():
            yield path


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise ValueError("binary content (NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 text ({err.reason} at byte {err.start})") from err


def _html_to_markdown(html: str) -> tuple[str, str | None]:
    """Convert HTML to Markdown (headings kept as `#` lines); also return the <title>."""
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "title"]):
        tag.decompose()
    body = soup.body or soup
    markdown = markdownify(str(body), heading_style="ATX", bullets="-")
    return markdown.strip(), title or None


def _first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip() or None
    return None


def read_file(path: Path, root: Path, source: str) -> Document:
    """Read one file into a Document; raises ValueError with a user-facing reason."""
    text = _decode(path.read_bytes())
    relative = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    title: str | None
    if suffix in HTML_SUFFIXES:
        text, title = _html_to_markdown(text)
        title = title or _first_heading(text)
        kind = "html"
    elif suffix in MARKDOWN_SUFFIXES:
        title = _first_heading(text)
        kind = "markdown"
    else:
        title = None
        kind = "text"
    if not text.strip():
        raise ValueError("empty after extracting text")
    updated = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return Document(
        id_=document_id(source, relative),
        text=text,
        metadata={
            "title": title or path.stem.replace("_", " ").replace("-", " "),
            "url": path.resolve().as_uri(),
            "source": source,
            "path": relative,
            "format": kind,
            "updated_at": updated.isoformat(),
        },
    )


def scan_folder(root: Path, source: str, max_file_bytes: int) -> FolderScan:
    """Read every supported file below `root`; unreadable ones are skipped with a reason."""
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder: give the folder of documents to index")
    scan = FolderScan()
    rules = load_folder_rules(root)
    for path in _iter_candidate_files(root):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            scan.skipped.append(SkippedFile(path, f"unsupported file type '{path.suffix}'"))
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            reason = f"too large ({size} bytes > KNOWHERE_MAX_FILE_BYTES={max_file_bytes})"
            scan.skipped.append(SkippedFile(path, reason))
            continue
        try:
            document = read_file(path, root, source)
            document.metadata.update(access_metadata(document.metadata["path"], rules))
            scan.documents.append(document)
        except (OSError, ValueError) as err:
            scan.skipped.append(SkippedFile(path, str(err)))
    return scan
