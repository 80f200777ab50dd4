"""Confluence spaces as documents: the listing, page → Document with its access list.

- Listing: `/content?spaceKey=…&type=page&status=current` with each page's version, ancestors
  and read restrictions expanded (a hundred pages a request). Every run lists the whole space:
  versions say which bodies to fetch, restrictions which access lists changed without an edit
  (Confluence does not bump the version for those), and pages missing from the listing
  (trashed, archived, deleted) are pruned.
- Pages in batches: CQL `id in (…)` with the body, version, ancestors, labels, space and
  history expanded, one request per batch.
- Access: see `permissions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llama_index.core import Document

from ...access.model import Access
from ...ingest.documents import ACCESS_KEY, document_id
from . import attachments
from .client import ConfluenceClient
from .permissions import PermissionsUnreadable, restriction_level
from .storage_format import storage_to_markdown

PAGE_EXPAND = ",".join(
    ["body.storage", "version", "ancestors", "space", "history", "metadata.labels"]
)
RESTRICTIONS_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
LIST_EXPAND = f"version,ancestors,{RESTRICTIONS_EXPAND}"
LIST_LIMIT = 100


# A page that lists its children (a children or page-tree macro) and says fewer words than
# this besides is a section page: "This section collects 8 pages."
NAVIGATION_MACRO = re.compile(r'<ac:structured-macro[^>]*ac:name="(children|pagetree)"')
NAVIGATION_WORDS = 12


def navigation_only(storage: str, text: str) -> bool:
    return bool(NAVIGATION_MACRO.search(storage)) and len(text.split()) < NAVIGATION_WORDS


@dataclass(frozen=True)
class ListedPage:
    """A page as the listing shows it: enough to decide what to fetch and who may read it."""

    id: str
    title: str
    version: int
    ancestors: tuple[str, ...]  # ids, root first
    level: Any  # its own read restriction (a Clause or None); unreadable: the reason, a str


def _listed(page: dict[str, Any]) -> ListedPage:
    level: Any
    try:
        restrictions = page["restrictions"]  # asked for: its absence is not "no restriction"
        level = restriction_level(
            restrictions.get("read") if isinstance(restrictions, dict) else restrictions
        )
    except (KeyError, PermissionsUnreadable) as err:
        level = f"read restrictions unreadable ({err})"
    return ListedPage(
        str(page["id"]),
        str(page.get("title", "")),
        int(page.get("version", {}).get("number", 0)),
        tuple(str(a["id"]) for a in page.get("ancestors", [])),
        level,
    )


def list_pages(client: ConfluenceClient, key: str) -> dict[str, ListedPage]:
    """Every current page of a space, with its version, ancestors and read restriction."""
    params = {
        "spaceKey": key,
        "type": "page",
        "status": "current",
        "expand": LIST_EXPAND,
        "limit": LIST_LIMIT,
    }
    listed = (_listed(page) for page in client.paginate("content", params, space=key))
    return {page.id: page for page in listed}


def restriction_of(client: ConfluenceClient, key: str, page_id: str) -> Any:
    """The read restriction of one page outside the listing (an archived ancestor, say)."""
    data = client.get_json(
        f"content/{page_id}/restriction/byOperation/read",
        {"expand": "restrictions.user,restrictions.group"},
        space=key,
    )
    try:
        return restriction_level(data)
    except PermissionsUnreadable as err:
        return f"read restrictions of ancestor {page_id} unreadable ({err})"


def fetch_pages(client: ConfluenceClient, key: str, ids: list[str]) -> list[dict[str, Any]]:
    """Full pages (body and expansions) for `ids`, one CQL request per batch."""
    if not ids:
        return []
    cql = f"id in ({','.join(ids)})"
    params = {"cql": cql, "expand": PAGE_EXPAND, "limit": len(ids)}
    return list(client.paginate("content/search", params, space=key))


@dataclass
class PageReader:
    """Turns fetched pages of one space into Documents."""

    client: ConfluenceClient
    source: str
    space_key: str
    with_attachments: bool = False

    def _attachment_text(self, page_id: str) -> Iterator[str]:
        listing = self.client.paginate(
            f"content/{page_id}/child/attachment", {"limit": LIST_LIMIT}, space=self.space_key
        )
        for item in listing:
            name = str(item.get("title", ""))
            download = item.get("_links", {}).get("download")
            if not download or not attachments.supported(name):
                continue
            text = attachments.extract_text(name, self.client.get_bytes(download, self.space_key))
            if text:
                yield f"# Attachment: {name}\n\n{text}"

    def document(self, page: dict[str, Any], access: Access) -> Document:
        """One page as a Document readable as `access` (worked out from the listing);
        ValueError names what is wrong with the page."""
        page_id = str(page.get("id", ""))
        title = str(page.get("title", "")).strip()
        if not page_id or not title:
            raise ValueError("page without id or title")
        storage = page.get("body", {}).get("storage", {}).get("value")
        if storage is None:
            raise ValueError("page has no body.storage (expansion missing)")
        text = storage_to_markdown(storage)
        if navigation_only(storage, text):
            text = ""  # indexed without chunks: a section page is not what answers are made of
        elif not text.strip():
            text = title
        if self.with_attachments:
            text = "\n\n".join(t for t in [text, *self._attachment_text(page_id)] if t)
        version = page.get("version", {})
        ancestors = [str(a.get("title", "")) for a in page.get("ancestors", [])]
        links = page.get("_links", {})
        base = str(links.get("base") or self.client.site).rstrip("/")
        space = page.get("space", {})
        author = version.get("by") or page.get("history", {}).get("createdBy") or {}
        labels = [
            str(label.get("name"))
            for label in page.get("metadata", {}).get("labels", {}).get("results", [])
        ]
        metadata: dict[str, Any] = {
            "title": title,
            "url": f"{base}{links.get('webui', '')}",
            "source": self.source,
            "path": "/".join([space.get("key", self.space_key), *ancestors, title]),
            "format": "confluence",
            "page_id": page_id,
            "space": space.get("key", self.space_key),
            "space_name": space.get("name", ""),
            "breadcrumb": " > ".join(ancestors),
            "author": author.get("displayName") or author.get("publicName") or "",
            "version": int(version.get("number", 0)),
            "labels": labels,
        }
        if version.get("when"):
            metadata["updated_at"] = datetime.fromisoformat(
                str(version["when"]).replace("Z", "+00:00")
            ).isoformat()
        metadata[ACCESS_KEY] = access.to_dict()
        return Document(id_=page_doc_id(self.source, page_id), text=text, metadata=metadata)


def page_doc_id(source: str, page_id: str) -> str:
    return document_id(source, f"page/{page_id}")
