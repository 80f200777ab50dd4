"""A Confluence site's configured spaces as a listing connector: plan batches of page ids from
the listing (or the CQL change window), load each batch's pages with one request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ...access.model import Access
from ...errors import SourceError
from ...failures import Failure
from ..interfaces import Loaded, Plan
from .client import ConfluenceClient
from .pages import PageReader, changed_pages, fetch_pages, list_pages, page_doc_id
from .permissions import space_access


def _slices(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ConfluenceConnector:
    """The spaces `spaces` of one Confluence site, as source `source`."""

    def __init__(
        self,
        client: ConfluenceClient,
        source: str,
        spaces: list[str],
        batch_size: int,
        attachments: bool = False,
        fallback_access: Access | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.spaces = spaces
        self.batch_size = batch_size
        self.attachments = attachments
        self.fallback_access = fallback_access  # `space_access` of the source, if declared

    def close(self) -> None:
        self.client.close()

    def plan(self, full: bool, since: datetime | None, versions: dict[str, str]) -> Plan:
        plan = Plan(batches=[])
        for key in self.spaces:
            access = space_access(self.client, key, self.fallback_access).to_dict()
            if full or since is None:
                listed = list_pages(self.client, key)
            else:
                listed = changed_pages(self.client, key, since)
            ids = [
                page_id
                for page_id, version in listed.items()
                if full or versions.get(page_doc_id(self.source, page_id)) != str(version)
            ]
            plan.unchanged += len(listed) - len(ids)
            for chunk in _slices(sorted(ids, key=int), self.batch_size):
                plan.batches.append({"space": key, "ids": chunk, "access": access})
        return plan

    def load(self, payload: dict[str, Any]) -> Loaded:
        key = str(payload["space"])
        reader = PageReader(
            self.client,
            self.source,
            key,
            Access.from_dict(payload["access"]),
            with_attachments=self.attachments,
        )
        loaded = Loaded(documents=[])
        pages = fetch_pages(self.client, key, [str(i) for i in payload["ids"]])
        # A page deleted since planning is simply absent; the next full run prunes it.
        for page in pages:
            label = f"space {key}, page {page.get('id')} ({page.get('title', '')!s})"
            try:
                document = reader.document(page)
            except (ValueError, SourceError) as err:
                loaded.failures.append(Failure(label, str(err)))
                continue
            loaded.documents.append(document)
            loaded.versions[document.id_] = str(document.metadata["version"])
        return loaded

    def listing(self) -> set[str]:
        ids: set[str] = set()
        for key in self.spaces:
            ids |= {page_doc_id(self.source, i) for i in list_pages(self.client, key)}
        return ids
