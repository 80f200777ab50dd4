"""The two kinds of source a sync reads, one protocol per capability.

- A *listing* connector (Confluence) lists ids, versions and permissions cheaply and fetches
  bodies in batches: a run plans batches of ids that any worker can load, and access lists
  that changed without an edit.
- An *export* connector (ticket export files) can only be read whole: a run reads it once,
  and the changed documents are handed to the batches through the run's staging area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llama_index.core import Document

from ..access.model import Access
from ..failures import Failure
from .tickets.pairs import TicketPair


@dataclass
class Plan:
    """What a connector found to sync: batches (JSON a task can carry), what failed, how many
    items are unchanged, and every document the source holds now (None when the listing is
    incomplete, so nothing may be pruned)."""

    batches: list[dict[str, Any]]
    failures: list[Failure] = field(default_factory=list)
    unchanged: int = 0  # items known to be unchanged, never sent to a batch
    listing: set[str] | None = None
    groups: set[str] = field(default_factory=set)  # every group the access lists name


@dataclass
class Loaded:
    """One batch's documents, their source versions, what failed, and training pairs."""

    documents: list[Document]
    versions: dict[str, str] = field(default_factory=dict)  # doc id → source version
    failures: list[Failure] = field(default_factory=list)
    pairs: list[TicketPair] = field(default_factory=list)
    access: dict[str, Access] = field(default_factory=dict)  # changed access lists alone


@dataclass
class Export:
    """Everything an export holds: documents, (question, resolution) pairs by document id, and
    the records that could not be read."""

    documents: list[Document]
    pairs: dict[str, TicketPair] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    complete: bool = True  # False when any file or record failed to read: nothing is pruned


@runtime_checkable
class ListingConnector(Protocol):
    def plan(self, full: bool, versions: dict[str, str], accesses: dict[str, str]) -> Plan:
        """Batches of what changed (everything when `full`): `versions` are the source
        versions and `accesses` the access fingerprints already indexed, by document id."""
        ...

    def load(self, payload: dict[str, Any]) -> Loaded: ...

    def close(self) -> None: ...


@runtime_checkable
class ExportConnector(Protocol):
    def read(self) -> Export: ...

    def close(self) -> None: ...


Connector = ListingConnector | ExportConnector
