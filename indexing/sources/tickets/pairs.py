"""(question, resolution) pairs from resolved support tickets, kept for embedder training.

Ticket connectors add a pair per resolved ticket; the training-set builder reads them next to
the 👍/👎 feedback. A ticket synced again replaces its pair (source + ticket id is the key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from ...infra.database import Base, SqlStore, utc_now


class TicketPairRow(Base):
    __tablename__ = "ticket_pairs"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class TicketPair:
    source: str
    ticket_id: str
    question: str
    resolution: str
    url: str = ""


class TicketPairs(SqlStore):
    """The stored ticket pairs (same database as the answer log)."""

    def add_many(self, pairs: Iterable[TicketPair]) -> int:
        count = 0
        with self._session() as session:
            for pair in pairs:
                row = session.get(TicketPairRow, (pair.source, pair.ticket_id)) or TicketPairRow(
                    source=pair.source, ticket_id=pair.ticket_id
                )
                row.question, row.resolution, row.url = pair.question, pair.resolution, pair.url
                session.add(row)
                count += 1
        return count

    def all(self) -> list[TicketPair]:
        with self._session() as session:
            rows = session.scalars(
                select(TicketPairRow).order_by(TicketPairRow.source, TicketPairRow.ticket_id)
            ).all()
            return [
                TicketPair(r.source, r.ticket_id, r.question, r.resolution, r.url) for r in rows
            ]
