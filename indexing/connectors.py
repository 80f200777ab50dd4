"""What to sync from a source and how to load one batch of it.

A connector *plans* a run (which items changed, split into JSON batches that a Celery task
can carry) and *loads* one batch into Documents. Planning is cheap: for Confluence it lists
ids and version numbers, and only `load` fetches page bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from llama_index.core import Document

from .confluence import Access, PageReader, changed_pages, fetch_pages, list_pages, page_doc_id
from .confluence import space_access as read_space_access
from .confluenceapi import ConfluenceClient
from .errors import SourceError
from .reading import content_hash
from .sources import SourceConfig
from .ticketformats import READERS, RecordError
from .ticketpairs import TicketPair
from .tickets import People, PersonalData, ticket_document, ticket_pair

Item = tuple[str, str]  # (document or record, reason)


@dataclass
class Plan:
    batches: list[dict[str, Any]]
    errors: list[Item] = field(default_factory=list)
    unchanged: int = 0  # items known to be unchanged, never sent to a batch


@dataclass
class Loaded:
    documents: list[Document]
    versions: dict[str, str] = field(default_factory=dict)  # doc id → source version
    errors: list[Item] = field(default_factory=list)
    pairs: list[TicketPair] = field(default_factory=list)


class Connector(Protocol):
    def plan(
        self,
        full: bool,
        since: datetime | None,
        versions: dict[str, str],
        hashes: dict[str, str],
    ) -> Plan: ...

    def load(self, payload: dict[str, Any]) -> Loaded: ...

    def current(self) -> set[str]:
        """Ids of every document the source holds now (for pruning)."""
        ...

    def close(self) -> None: ...


def _slices(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _access_dict(access: Access) -> dict[str, Any]:
    return {"public": access.public, "users": sorted(access.users), "groups": sorted(access.groups)}


def _access(data: dict[str, Any]) -> Access:
    return Access(data["public"], frozenset(data["users"]), frozenset(data["groups"]))


class ConfluenceConnector:
    """The configured spaces of one Confluence site."""

    def __init__(self, config: SourceConfig, batch_size: int) -> None:
        self.config = config
        self.batch_size = batch_size
        self.client = ConfluenceClient(str(config.url), config.auth())

    def close(self) -> None:
        self.client.close()

    def plan(
        self,
        full: bool,
        since: datetime | None,
        versions: dict[str, str],
        hashes: dict[str, str],
    ) -> Plan:
        plan = Plan(batches=[])
        fallback = self.config.space_access.access() if self.config.space_access else None
        for key in self.config.spaces:
            access = _access_dict(read_space_access(self.client, key, fallback))
            if full or since is None:
                listed = list_pages(self.client, key)
            else:
                listed = changed_pages(self.client, key, since)
            ids = [
                page_id
                for page_id, version in listed.items()
                if full or versions.get(page_doc_id(self.config.name, page_id)) != str(version)
            ]
            plan.unchanged += len(listed) - len(ids)
            for chunk in _slices(sorted(ids, key=int), self.batch_size):
                plan.batches.append({"space": key, "ids": chunk, "access": access})
        return plan

    def load(self, payload: dict[str, Any]) -> Loaded:
        key = str(payload["space"])
        reader = PageReader(
            self.client,
            self.config.name,
            key,
            _access(payload["access"]),
            with_attachments=self.config.attachments,
        )
        loaded = Loaded(documents=[])
        pages = fetch_pages(self.client, key, [str(i) for i in payload["ids"]])
        # A page deleted since planning is simply absent; the next full run prunes it.
        for page in pages:
            label = f"space {key}, page {page.get('id')} ({page.get('title', '')!s})"
            try:
                document = reader.document(page)
            except (ValueError, SourceError) as err:
                loaded.errors.append((label, str(err)))
                continue
            loaded.documents.append(document)
            loaded.versions[document.id_] = str(document.metadata["version"])
        return loaded

    def current(self) -> set[str]:
        ids: set[str] = set()
        for key in self.config.spaces:
            ids |= {page_doc_id(self.config.name, i) for i in list_pages(self.client, key)}
        return ids


def _document_payload(document: Document) -> dict[str, Any]:
    return {"id": document.id_, "text": document.text, "metadata": document.metadata}


class TicketConnector:
    """Ticket export files: every run reads them; only new or changed tickets are sent on."""

    def __init__(
        self,
        config: SourceConfig,
        batch_size: int,
        personal_data: PersonalData,
        key: bytes = b"",
    ) -> None:
        self.config = config
        self.batch_size = batch_size
        self.people = People(config.personal_data or personal_data, key)
        self.reader = READERS[config.type]

    def close(self) -> None:
        pass

    def _read(self) -> tuple[list[tuple[Document, TicketPair | None]], list[Item]]:
        options = self.config.model_dump()
        tickets: dict[str, tuple[Document, TicketPair | None]] = {}  # a later export wins
        errors: list[Item] = []
        for path in self.config.files():
            try:
                results = list(self.reader(path, options))
            except (OSError, UnicodeDecodeError) as err:
                errors.append((path.name, f"cannot read the file: {err}"))
                continue
            for result in results:
                if isinstance(result, RecordError):
                    errors.append((f"{result.file}, {result.where}", result.reason))
                    continue
                document = ticket_document(result, self.config.name, self.people)
                pair = ticket_pair(result, self.config.name, self.people)
                tickets[document.id_] = (document, pair)
        return list(tickets.values()), errors

    def plan(
        self,
        full: bool,
        since: datetime | None,
        versions: dict[str, str],
        hashes: dict[str, str],
    ) -> Plan:
        tickets, errors = self._read()
        todo = [t for t in tickets if hashes.get(t[0].id_) != content_hash(t[0])]
        plan = Plan(batches=[], errors=errors, unchanged=len(tickets) - len(todo))
        for chunk in _slices(todo, self.batch_size):
            plan.batches.append(
                {
                    "documents": [_document_payload(d) for d, _ in chunk],
                    "pairs": [asdict(p) for _, p in chunk if p is not None],
                }
            )
        return plan

    def load(self, payload: dict[str, Any]) -> Loaded:
        documents = [
            Document(id_=d["id"], text=d["text"], metadata=d["metadata"])
            for d in payload["documents"]
        ]
        pairs = [TicketPair(**p) for p in payload.get("pairs", [])]
        return Loaded(documents=documents, pairs=pairs)

    def current(self) -> set[str]:
        tickets, _ = self._read()
        return {document.id_ for document, _ in tickets}


def open_connector(
    config: SourceConfig,
    batch_size: int,
    personal_data: PersonalData,
    key: bytes = b"",
) -> Connector:
    if config.is_confluence:
        return ConfluenceConnector(config, batch_size)
    return TicketConnector(config, batch_size, personal_data, key)
