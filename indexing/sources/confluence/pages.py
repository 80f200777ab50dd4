"""Confluence spaces as documents: listing, change detection, page → Document with access lists.

- Listing: `/content?spaceKey=…&type=page&status=current` (ids and versions; archived and
  deleted pages are absent, so comparing id lists finds what to prune).
- Changes: CQL `lastmodified >= "…"`. CQL dates are read in the API user's time zone, so the
  window is widened by `CQL_MARGIN` and version numbers decide what really changed.
- Pages in batches: CQL `id in (…)` with the body, version, ancestors, labels, space, history
  and read restrictions expanded, one request per batch.
- Access: see `permissions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from llama_index.core import Document

from ...access.model import Access
from ...ingest.documents import ACCESS_KEY, document_id
from . import attachments
from .client import ConfluenceClient
from .permissions import combine, restriction_level
from .storage_format import storage_to_markdown

CQL_MARGIN = timedelta(hours=15)  # largest UTC offset (+14) and a little more
PAGE_EXPAND = ",".join(
    [
        "body.storage",
        "version",
        "ancestors",
        "space",
        "history",
        "metadata.labels",
        "restrictions.read.restrictions.user",
        "restrictions.read.restrictions.group",
    ]
)
LIST_LIMIT = 100


def list_pages(client: ConfluenceClient, key: str) -> dict[str, int]:
    """Every current page of a space: id → version number."""
    params = {
        "spaceKey": key,
        "type": "page",
        "status": "current",
        "expand": "version",
        "limit": LIST_LIMIT,
    }
    return {
        str(page["id"]): int(page.get("version", {}).get("number", 0))
        for page in client.paginate("content", params, space=key)
    }


def cql_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def changed_pages(client: ConfluenceClient, key: str, since: datetime) -> dict[str, int]:
    """Pages of a space modified since `since` (widened by CQL_MARGIN): id → version."""
    cql = f'space = "{key}" and type = page and lastmodified >= "{cql_time(since - CQL_MARGIN)}"'
    params = {"cql": cql, "expand": "version", "limit": LIST_LIMIT}
    return {
        str(page["id"]): int(page.get("version", {}).get("number", 0))
        for page in client.paginate("content/search", params, space=key)
    }


def fetch_pages(client: ConfluenceClient, key: str, ids: list[str]) -> list[dict[str, Any]]:
    """Full pages (body and expansions) for `ids`, one CQL request per batch."""
    if not ids:
        return []
    cql = f"id in ({','.join(ids)})"
    params = {"cql": cql, "expand": PAGE_EXPAND, "limit": len(ids)}
    return list(client.paginate("content/search", params, space=key))


@dataclass
class PageReader:
    """Turns fetched pages of one space into Documents (caching ancestors' restrictions)."""

    client: ConfluenceClient
    source: str
    space_key: str
    space: Access
    with_attachments: bool = False
    _ancestor_levels: dict[str, Access | None] = field(default_factory=dict)

    def _ancestor_level(self, page_id: str) -> Access | None:
        if page_id not in self._ancestor_levels:
            data = self.client.get_json(
                f"content/{page_id}/restriction/byOperation/read",
                {"expand": "restrictions.user,restrictions.group"},
                space=self.space_key,
            )
            self._ancestor_levels[page_id] = restriction_level(data)
        return self._ancestor_levels[page_id]

    def access(self, page: dict[str, Any]) -> Access:
        own = restriction_level(page.get("restrictions", {}).get("read"))
        inherited = [self._ancestor_level(str(a["id"])) for a in page.get("ancestors", [])]
        return combine([own, *inherited], self.space)

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

    def document(self, page: dict[str, Any]) -> Document:
        """One page as a Document; ValueError names what is wrong with the page."""
        page_id = str(page.get("id", ""))
        title = str(page.get("title", "")).strip()
        if not page_id or not title:
            raise ValueError("page without id or title")
        storage = page.get("body", {}).get("storage", {}).get("value")
        if storage is None:
            raise ValueError("page has no body.storage (expansion missing)")
        text = storage_to_markdown(storage)
        if self.with_attachments:
            text = "\n\n".join([text, *self._attachment_text(page_id)])
        if not text.strip():
            text = title
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
        metadata[ACCESS_KEY] = self.access(page).to_dict()
        return Document(id_=page_doc_id(self.source, page_id), text=text, metadata=metadata)


def page_doc_id(source: str, page_id: str) -> str:
    return document_id(source, f"page/{page_id}")
