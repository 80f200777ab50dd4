"""A folder as a source: Markdown, HTML and plain-text files as LlamaIndex Documents, with
the access rules of its `.knowhere-access.yml`."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bs4 import BeautifulSoup
from llama_index.core import Document
from markdownify import markdownify

from ..access.groups import read_yaml
from ..access.model import Access
from ..errors import ConfigError, SourceError
from ..failures import Failure
from ..ingest.documents import ACCESS_KEY, document_id

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt", ".text", ".rst"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES

FOLDER_ACCESS_FILE = ".knowhere-access.yml"


@dataclass
class FolderScan:
    """What a folder yielded: documents to index, files that were skipped, and the document
    ids of the supported files among them (they keep what is indexed of them: a file too big
    or unreadable this run is not deleted from the index)."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AccessRule:
    """Files matching `pattern` (a glob relative to the folder) are readable only by these."""

    pattern: str
    access: Access


def load_folder_rules(root: Path) -> list[AccessRule]:
    """Rules from `<folder>/.knowhere-access.yml`; files no rule matches are public.

    rules:
      - path: "hr/salaries/*"
        users: [ceo@example.com]
        groups: [hr]
    """
    path = root / FOLDER_ACCESS_FILE
    if not path.exists():
        return []
    data = read_yaml(path)
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: expected `rules:` with a list of {{path, users, groups}}")
    parsed = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
            raise ConfigError(f"{path}: rule {number} needs a `path` glob")
        users, groups = rule.get("users", []), rule.get("groups", [])
        if not (isinstance(users, list) and isinstance(groups, list)) or not (users or groups):
            raise ConfigError(f"{path}: rule {number} needs `users` and/or `groups` lists")
        access = Access.restricted(map(str, users), map(str, groups))
        parsed.append(AccessRule(rule["path"], access))
    return parsed


def access_of(relative_path: str, rules: list[AccessRule]) -> Access | None:
    """The access list of a file: the first matching rule's, else None (public)."""
    for rule in rules:
        if fnmatch.fnmatch(relative_path, rule.pattern):
            return rule.access
    return None


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

    def keep_indexed(path: Path, reason: str) -> None:  # not read this time, not gone either
        scan.skipped.append(Failure(str(path), reason))
        scan.kept.add(document_id(source, path.relative_to(root).as_posix()))

    for path in _iter_candidate_files(root):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            scan.skipped.append(Failure(str(path), f"unsupported file type '{path.suffix}'"))
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            reason = f"too large ({size} bytes > KNOWHERE_MAX_FILE_BYTES={max_file_bytes})"
            keep_indexed(path, reason)
            continue
        try:
            document = read_file(path, root, source)
            access = access_of(document.metadata["path"], rules)
            if access is not None:
                document.metadata[ACCESS_KEY] = access.to_dict()
            scan.documents.append(document)
        except (OSError, ValueError) as err:
            keep_indexed(path, str(err))
    return scan
