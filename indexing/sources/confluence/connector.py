"""A Confluence site's configured spaces as a listing connector.

Planning lists every page of each space with its version, ancestors and read restriction
(cheap: ids and metadata, a hundred pages a request) and works out each page's access from
the space permission and the restricted levels above it. Pages whose version changed are
fetched in batches; pages whose access alone changed get their access rewritten without a
fetch; pages gone from the listing are pruned; a page whose restrictions cannot be read is
reported and left out, never indexed as if it were open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...access.model import Access
from ...errors import SourceError
from ...failures import Failure
from ..interfaces import Loaded, Plan
from .client import ConfluenceClient
from .pages import ListedPage, PageReader, fetch_pages, list_pages, page_doc_id, restriction_of
from .permissions import page_access, space_access

ACCESS_BATCH = 500  # access-only rewrites per batch (no fetch, no embedding)


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

    def _accesses(
        self, key: str, space: Access, listed: dict[str, ListedPage], plan: Plan
    ) -> dict[str, Access]:
        """Each listed page's access; unreadable ones are reported and left out."""
        outside: dict[str, Any] = {}  # restrictions of ancestors the listing does not hold

        def level(page_id: str) -> Any:
            if page_id in listed:
                return listed[page_id].level
            if page_id not in outside:
                outside[page_id] = restriction_of(self.client, key, page_id)
            return outside[page_id]

        accesses = {}
        for page in listed.values():
            levels = [level(p) for p in (page.id, *page.ancestors)]
            problem = next((lv for lv in levels if isinstance(lv, str)), None)
            if problem is not None:
                label = f"space {key}, page {page.id} ({page.title})"
                plan.failures.append(Failure(label, f"{problem}: not indexed"))
                continue
            accesses[page.id] = page_access(space, levels)
            plan.groups |= {g for clause in accesses[page.id].clauses for g in clause.groups}
        return accesses

    def plan(self, full: bool, versions: dict[str, str], accesses: dict[str, str]) -> Plan:
        plan = Plan(batches=[])
        listing: set[str] = set()
        for key in self.spaces:
            space = space_access(self.client, key, self.fallback_access)
            listed = list_pages(self.client, key)
            readable = self._accesses(key, space, listed, plan)
            fetch: list[str] = []
            rewrite: dict[str, Any] = {}
            for page_id, access in readable.items():
                doc_id = page_doc_id(self.source, page_id)
                listing.add(doc_id)
                if full or versions.get(doc_id) != str(listed[page_id].version):
                    fetch.append(page_id)
                elif accesses.get(doc_id) != access.fingerprint():
                    rewrite[doc_id] = access.to_dict()
                else:
                    plan.unchanged += 1
            for ids in _slices(sorted(fetch, key=int), self.batch_size):
                payload = {i: readable[i].to_dict() for i in ids}
                plan.batches.append({"space": key, "ids": ids, "access": payload})
            for docs in _slices(sorted(rewrite), ACCESS_BATCH):
                plan.batches.append(
                    {"space": key, "ids": [], "access_only": {d: rewrite[d] for d in docs}}
                )
        plan.listing = listing
        return plan

    def load(self, payload: dict[str, Any]) -> Loaded:
        key = str(payload["space"])
        loaded = Loaded(documents=[])
        for doc_id, access in payload.get("access_only", {}).items():
            loaded.access[doc_id] = Access.from_dict(access)
        ids = [str(i) for i in payload.get("ids", [])]
        if not ids:
            return loaded
        reader = PageReader(self.client, self.source, key, with_attachments=self.attachments)
        accesses = payload["access"]
        # A page deleted since planning is simply absent; the next run prunes it.
        for page in fetch_pages(self.client, key, ids):
            label = f"space {key}, page {page.get('id')} ({page.get('title', '')!s})"
            access = accesses.get(str(page.get("id")))
            if access is None:
                loaded.failures.append(Failure(label, "not planned with an access list"))
                continue
            try:
                document = reader.document(page, Access.from_dict(access))
            except (ValueError, SourceError) as err:
                loaded.failures.append(Failure(label, str(err)))
                continue
            loaded.documents.append(document)
            loaded.versions[document.id_] = str(document.metadata["version"])
        return loaded
