"""The two kinds of source a sync reads, one protocol per capability.

- A *listing* connector (Confluence) lists ids and versions cheaply and fetches bodies in
  batches: a run plans batches of ids that any worker can load.
- An *export* connector (ticket export files) can only be read whole: a run reads it once,
  and the changed documents are handed to the batches through the run's staging area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from llama_index.core import Document

from ..failures import Failure
from .tickets.pairs import TicketPair


@dataclass
class Plan:
    """What a listing connector found to sync: batches of ids (JSON a task can carry)."""

    batches: list[dict[str, Any]]
    failures: list[Failure] = field(default_factory=list)
    unchanged: int = 0  # items known to be unchanged, never sent to a batch


@dataclass
class Loaded:
    """One batch's documents, their source versions, what failed, and training pairs."""

    documents: list[Document]
    versions: dict[str, str] = field(default_factory=dict)  # doc id → source version
    failures: list[Failure] = field(default_factory=list)
    pairs: list[TicketPair] = field(default_factory=list)


@dataclass
class Export:
    """Everything an export holds: documents, (question, resolution) pairs by document id, and
    the records that could not be read."""

    documents: list[Document]
    pairs: dict[str, TicketPair] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


@runtime_checkable
class ListingConnector(Protocol):
    def plan(self, full: bool, since: datetime | None, versions: dict[str, str]) -> Plan:
        """Batches of what changed since `since` (everything when `full` or without `since`);
        `versions` are the source versions already indexed (doc id → version)."""
        ...

    def load(self, payload: dict[str, Any]) -> Loaded: ...

    def listing(self) -> set[str]:
        """Ids of every document the source holds now (for pruning)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ExportConnector(Protocol):
    def read(self) -> Export: ...

    def close(self) -> None: ...


Connector = ListingConnector | ExportConnector
