"""The answer log and feedback store (SQLAlchemy: SQLite on one host, PostgreSQL when shared).

Every answer is recorded with the passages it used, and every chat message that shows it
(a Slack channel + ts, a Teams conversation + activity id). A later 👍/👎 names only the
message, so it maps back through here to (query, passage, label) pairs for fine-tuning.
Feedback is never deleted: a removed reaction is marked withdrawn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from ..infra.database import Base, SqlStore, utc_now
from ..observability.metrics import ANSWER_OUTCOMES, VOTE_OUTCOMES
from .answer import Answer, Citation
from .turns import Turn


class AnswerRow(Base):
    __tablename__ = "answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    platform: Mapped[str] = mapped_column(String(16))
    conversation: Mapped[str] = mapped_column(String(128), index=True)
    thread: Mapped[str | None] = mapped_column(String(128), index=True)
    asker: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    standalone_query: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    found: Mapped[bool] = mapped_column(Boolean)
    confidence: Mapped[float | None] = mapped_column(Float)
    embedder: Mapped[str] = mapped_column(String(300))
    generator: Mapped[str] = mapped_column(String(300))
    retrieved: Mapped[list[str]] = mapped_column(JSON)
    seconds: Mapped[float | None] = mapped_column(Float)  # how long the asker waited
    verified_id: Mapped[str | None] = mapped_column(String(32))  # the verified answer it served


class PassageRow(Base):
    """A passage an answer cited (or, for a not-found answer, listed as closest)."""

    __tablename__ = "answer_passages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    chunk_id: Mapped[str] = mapped_column(String(64))
    doc_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    cited: Mapped[bool] = mapped_column(Boolean)


class MessageRow(Base):
    """A chat message that shows an answer."""

    __tablename__ = "answer_messages"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    conversation: Mapped[str] = mapped_column(String(128), primary_key=True)
    message: Mapped[str] = mapped_column(String(256), primary_key=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    user: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(32))  # reaction, button, teams-feedback, …
    signal: Mapped[str] = mapped_column(String(64))  # the reaction's name, the button, …
    label: Mapped[int] = mapped_column(Integer)  # +1 helpful, -1 not helpful
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A vote on one cited source (its number) instead of on the whole answer.
    passage: Mapped[int | None] = mapped_column(Integer)


class EscalationRow(Base):
    """An answer handed to people (*Still need help*, 🎫): who asked for it, to whom it went."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    user: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(32))  # button, reaction
    targets: Mapped[str] = mapped_column(Text)  # where it went, e.g. "slack:C123 webhook"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class FeedbackPair:
    """One training signal: this passage was (+1) or was not (-1) a good source for the query."""

    query: str
    passage: str
    chunk_id: str
    doc_id: str
    label: int
    answer_id: str
    user: str
    via: str
    at: datetime
    comment: str | None = None  # what the user wrote with the vote, if anything


@dataclass(frozen=True)
class ClosestSource:
    """A passage an answer cited or listed as closest."""

    chunk_id: str
    doc_id: str
    title: str
    url: str


@dataclass(frozen=True)
class AskedAnswer:
    """An answer as the knowledge-gap report reads it: the question, how it went, and (for
    answers that went badly) the passages it cited or listed as closest."""

    answer_id: str
    question: str  # the standalone query (follow-ups made whole)
    at: datetime
    found: bool
    confidence: float | None
    voted_down: bool  # an active 👎 on the answer or one of its sources
    sources: list[ClosestSource]
    escalated: bool = False  # someone asked for a person (*Still need help*, 🎫)


@dataclass(frozen=True)
class AnswerStat:
    """One answer as the admin page counts it."""

    at: datetime
    found: bool
    seconds: float | None


@dataclass(frozen=True)
class VoteStat:
    """One active vote as the admin page counts it."""

    at: datetime
    label: int


@dataclass(frozen=True)
class AnswerSignals:
    """What became of one answer: where it was given, its active votes on the whole answer
    (votes on one source are about that source, not the answer) and whether it went to
    people."""

    answer_id: str
    platform: str
    conversation: str
    at: datetime
    ups: int
    downs: int
    escalated: bool
    verified: bool = False  # it served a verified answer first


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    platform: str
    conversation: str
    thread: str | None
    asker: str
    answer: Answer


def _parts(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


class AnswerLog(SqlStore):
    """Record answers and feedback; read feedback back as training pairs."""

    # Answers ------------------------------------------------------------------------------

    def record(
        self,
        answer: Answer,
        platform: str,
        conversation: str,
        asker: str,
        thread: str | None = None,
        message: str | None = None,
    ) -> str:
        """Store an answer (and the message showing it, when already posted); return its id."""
        answer_id = uuid.uuid4().hex
        with self._session() as session:
            session.add(
                AnswerRow(
                    id=answer_id,
                    platform=platform,
                    conversation=conversation,
                    thread=thread,
                    asker=asker,
                    question=answer.question,
                    standalone_query=answer.standalone_query or answer.question,
                    text=answer.text,
                    found=answer.found,
                    confidence=answer.confidence,
                    embedder=answer.embedder,
                    generator=answer.generator,
                    retrieved=answer.retrieved,
                    seconds=answer.seconds,
                    verified_id=answer.verified.id if answer.verified else None,
                )
            )
            session.flush()
            for citation in answer.citations:
                session.add(
                    PassageRow(
                        answer_id=answer_id,
                        number=citation.number,
                        chunk_id=citation.chunk_id,
                        doc_id=citation.doc_id,
                        title=citation.title,
                        label=citation.label,
                        url=citation.url,
                        text=citation.text or citation.snippet,
                        cited=answer.found,
                    )
                )
            if message:
                session.add(
                    MessageRow(
                        platform=platform,
                        conversation=conversation,
                        message=message,
                        answer_id=answer_id,
                    )
                )
        return answer_id

    def add_message(self, answer_id: str, platform: str, conversation: str, message: str) -> None:
        with self._session() as session:
            session.merge(
                MessageRow(
                    platform=platform,
                    conversation=conversation,
                    message=message,
                    answer_id=answer_id,
                )
            )

    def answer_for_message(self, platform: str, conversation: str, message: str) -> str | None:
        with self._session() as session:
            row = session.get(MessageRow, (platform, conversation, message))
            return row.answer_id if row else None

    def answered_thread(self, platform: str, conversation: str, thread: str) -> bool:
        """Whether an answer was given in this thread (so follow-ups need no mention)."""
        with self._session() as session:
            query = select(AnswerRow.id).where(
                AnswerRow.platform == platform,
                AnswerRow.conversation == conversation,
                AnswerRow.thread == thread,
            )
            return session.execute(query.limit(1)).first() is not None

    def thread_turns(self, platform: str, conversation: str, thread: str) -> list[Turn]:
        """The questions asked and answers posted in this thread, oldest first. Only answers
        with a message everyone in the conversation sees: a private answer (*More*, made with
        one person's access) in the thread never becomes context for the next public one."""
        posted = select(MessageRow.answer_id).where(
            MessageRow.platform == platform, MessageRow.conversation == conversation
        )
        with self._session() as session:
            rows = session.execute(
                select(AnswerRow.question, AnswerRow.text)
                .where(
                    AnswerRow.platform == platform,
                    AnswerRow.conversation == conversation,
                    AnswerRow.thread == thread,
                    AnswerRow.id.in_(posted),
                )
                .order_by(AnswerRow.created_at, AnswerRow.id)
            ).all()
        turns: list[Turn] = []
        for question, text in rows:
            turns += [Turn("user", question), Turn("assistant", text)]
        return turns

    def get(self, answer_id: str) -> StoredAnswer | None:
        with self._session() as session:
            row = session.get(AnswerRow, answer_id)
            if row is None:
                return None
            passages = session.scalars(
                select(PassageRow)
                .where(PassageRow.answer_id == answer_id)
                .order_by(PassageRow.number)
            ).all()
            citations = [
                Citation(
                    p.number,
                    p.title,
                    p.url,
                    "",
                    p.text[:240],
                    p.chunk_id,
                    p.doc_id,
                    p.label,
                    p.text,
                )
                for p in passages
            ]
            answer = Answer(
                question=row.question,
                text=row.text,
                citations=citations,
                generator=row.generator,
                retrieved=list(row.retrieved),
                standalone_query=row.standalone_query,
                confidence=row.confidence,
                found=row.found,
                embedder=row.embedder,
                seconds=row.seconds,
            )
            return StoredAnswer(
                row.id, row.platform, row.conversation, row.thread, row.asker, answer
            )

    # Escalations --------------------------------------------------------------------------

    def escalated_by(self, answer_id: str, user: str) -> bool:
        with self._session() as session:
            found = session.scalar(
                select(EscalationRow.id).where(
                    EscalationRow.answer_id == answer_id, EscalationRow.user == user
                )
            )
            return found is not None

    def record_escalation(self, answer_id: str, user: str, via: str, targets: str) -> None:
        with self._session() as session:
            session.add(EscalationRow(answer_id=answer_id, user=user, via=via, targets=targets))
            platform = session.scalar(select(AnswerRow.platform).where(AnswerRow.id == answer_id))
        ANSWER_OUTCOMES.labels(platform or "unknown", "escalated").inc()

    # Feedback -----------------------------------------------------------------------------

    def add_feedback(
        self,
        answer_id: str,
        user: str,
        via: str,
        signal: str,
        label: int,
        comment: str | None = None,
        passage: int | None = None,
    ) -> None:
        """Record a vote on the answer, or on its cited source number `passage`.

        A user's earlier vote through the same `via` and `signal` is replaced."""
        with self._session() as session:
            self._withdraw(session, answer_id, user, via, signal)
            platform = session.scalar(select(AnswerRow.platform).where(AnswerRow.id == answer_id))
            session.add(
                FeedbackRow(
                    answer_id=answer_id,
                    user=user,
                    via=via,
                    signal=signal,
                    label=label,
                    comment=comment,
                    passage=passage,
                )
            )
        ANSWER_OUTCOMES.labels(platform or "unknown", VOTE_OUTCOMES.get(label, "other")).inc()

    def withdraw(self, answer_id: str, user: str, via: str, signal: str) -> int:
        """Mark the user's active vote withdrawn (a reaction removed, a button pressed again)."""
        with self._session() as session:
            withdrawn = self._withdraw(session, answer_id, user, via, signal)
            if withdrawn:
                platform = session.scalar(
                    select(AnswerRow.platform).where(AnswerRow.id == answer_id)
                )
                ANSWER_OUTCOMES.labels(platform or "unknown", "withdrawn").inc(withdrawn)
            return withdrawn

    def active_vote(self, answer_id: str, user: str, via: str, signal: str) -> int | None:
        with self._session() as session:
            return session.scalar(
                select(FeedbackRow.label).where(*self._match(answer_id, user, via, signal))
            )

    @staticmethod
    def _match(answer_id: str, user: str, via: str, signal: str) -> list[Any]:
        return [
            FeedbackRow.answer_id == answer_id,
            FeedbackRow.user == user,
            FeedbackRow.via == via,
            FeedbackRow.signal == signal,
            FeedbackRow.withdrawn_at.is_(None),
        ]

    def _withdraw(self, session: Session, answer_id: str, user: str, via: str, signal: str) -> int:
        result = session.execute(
            update(FeedbackRow)
            .where(*self._match(answer_id, user, via, signal))
            .values(withdrawn_at=utc_now())
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def answer_stats(self, since: datetime) -> list[AnswerStat]:
        with self._session() as session:
            rows = session.execute(
                select(AnswerRow.created_at, AnswerRow.found, AnswerRow.seconds)
                .where(AnswerRow.created_at >= since)
                .order_by(AnswerRow.created_at)
            ).all()
        return [AnswerStat(at, found, seconds) for at, found, seconds in rows]

    def vote_stats(self, since: datetime) -> list[VoteStat]:
        """Active votes cast since `since` (withdrawn ones left out)."""
        with self._session() as session:
            rows = session.execute(
                select(FeedbackRow.created_at, FeedbackRow.label)
                .where(FeedbackRow.created_at >= since, FeedbackRow.withdrawn_at.is_(None))
                .order_by(FeedbackRow.created_at)
            ).all()
        return [VoteStat(at, label) for at, label in rows]

    def signals_since(self, since: datetime) -> list[AnswerSignals]:
        """Every answer given since `since`, oldest first, with what became of it."""
        votes = (
            select(
                FeedbackRow.answer_id,
                func.sum(case((FeedbackRow.label > 0, 1), else_=0)).label("ups"),
                func.sum(case((FeedbackRow.label < 0, 1), else_=0)).label("downs"),
            )
            .where(FeedbackRow.withdrawn_at.is_(None), FeedbackRow.passage.is_(None))
            .group_by(FeedbackRow.answer_id)
            .subquery()
        )
        escalated = select(EscalationRow.answer_id).distinct().subquery()
        with self._session() as session:
            rows = session.execute(
                select(
                    AnswerRow.id,
                    AnswerRow.platform,
                    AnswerRow.conversation,
                    AnswerRow.created_at,
                    votes.c.ups,
                    votes.c.downs,
                    escalated.c.answer_id,
                    AnswerRow.verified_id,
                )
                .outerjoin(votes, votes.c.answer_id == AnswerRow.id)
                .outerjoin(escalated, escalated.c.answer_id == AnswerRow.id)
                .where(AnswerRow.created_at >= since)
                .order_by(AnswerRow.created_at, AnswerRow.id)
            ).all()
        return [
            AnswerSignals(
                row.id,
                row.platform,
                row.conversation,
                row.created_at,
                int(row.ups or 0),
                int(row.downs or 0),
                row.answer_id is not None,
                row.verified_id is not None,
            )
            for row in rows
        ]

    def asked_since(self, since: datetime, low_confidence: float) -> list[AskedAnswer]:
        """Every answer since `since`, oldest first. The sources are read for those that went
        badly: not found, found below `low_confidence`, or voted 👎."""
        down = (
            select(FeedbackRow.answer_id)
            .where(FeedbackRow.label < 0, FeedbackRow.withdrawn_at.is_(None))
            .distinct()
        )
        with self._session() as session:
            rows = session.execute(
                select(
                    AnswerRow.id,
                    AnswerRow.question,
                    AnswerRow.standalone_query,
                    AnswerRow.created_at,
                    AnswerRow.found,
                    AnswerRow.confidence,
                )
                .where(AnswerRow.created_at >= since)
                .order_by(AnswerRow.created_at, AnswerRow.id)
            ).all()
            voted_down: set[str] = set()
            escalated: set[str] = set()
            ids = [row.id for row in rows]
            for part in _parts(ids):
                voted_down.update(session.scalars(down.where(FeedbackRow.answer_id.in_(part))))
                escalated.update(
                    session.scalars(
                        select(EscalationRow.answer_id).where(EscalationRow.answer_id.in_(part))
                    )
                )
            bad = [
                row.id
                for row in rows
                if not row.found
                or row.id in voted_down
                or row.id in escalated
                or (row.confidence is not None and row.confidence < low_confidence)
            ]
            sources: dict[str, list[ClosestSource]] = {}
            for part in _parts(bad):
                for passage in session.scalars(
                    select(PassageRow)
                    .where(PassageRow.answer_id.in_(part))
                    .order_by(PassageRow.answer_id, PassageRow.number)
                ):
                    sources.setdefault(passage.answer_id, []).append(
                        ClosestSource(passage.chunk_id, passage.doc_id, passage.title, passage.url)
                    )
            return [
                AskedAnswer(
                    answer_id=row.id,
                    question=row.standalone_query or row.question,
                    at=row.created_at,
                    found=row.found,
                    confidence=row.confidence,
                    voted_down=row.id in voted_down,
                    sources=sources.get(row.id, []),
                    escalated=row.id in escalated,
                )
                for row in rows
            ]

    def pair_counts(self) -> dict[str, int]:
        """How many pairs `pairs()` gives, by label ("positive", "negative"), counted in SQL."""
        source_vote = aliased(FeedbackRow)
        overridden = (
            select(source_vote.id)
            .where(
                source_vote.answer_id == FeedbackRow.answer_id,
                source_vote.user == FeedbackRow.user,
                source_vote.passage == PassageRow.number,
                source_vote.withdrawn_at.is_(None),
            )
            .exists()
        )
        with self._session() as session:
            rows = session.execute(
                select(FeedbackRow.label, func.count())
                .join(PassageRow, PassageRow.answer_id == FeedbackRow.answer_id)
                .where(
                    FeedbackRow.withdrawn_at.is_(None),
                    PassageRow.cited.is_(True),
                    (FeedbackRow.passage == PassageRow.number)
                    | (FeedbackRow.passage.is_(None) & ~overridden),
                )
                .group_by(FeedbackRow.label)
            ).all()
        counts = {"positive": 0, "negative": 0}
        for label, count in rows:
            counts["positive" if label > 0 else "negative"] += int(count)
        return counts

    def pairs(self) -> list[FeedbackPair]:
        """(query, passage, label) for every active vote: a vote on the answer labels every
        passage it cited, a vote on one source labels that passage (and overrides the same
        user's answer vote for it)."""
        with self._session() as session:
            found = session.execute(
                select(FeedbackRow, AnswerRow.standalone_query, PassageRow)
                .join(AnswerRow, AnswerRow.id == FeedbackRow.answer_id)
                .join(PassageRow, PassageRow.answer_id == FeedbackRow.answer_id)
                .where(
                    FeedbackRow.withdrawn_at.is_(None),
                    PassageRow.cited.is_(True),
                    (FeedbackRow.passage.is_(None)) | (FeedbackRow.passage == PassageRow.number),
                )
                .order_by(FeedbackRow.id, PassageRow.number)
            ).all()
            by_source = {
                (vote.answer_id, vote.user, passage.number)
                for vote, _, passage in found
                if vote.passage is not None
            }
            rows = [
                (vote, query, passage)
                for vote, query, passage in found
                if vote.passage is not None
                or (vote.answer_id, vote.user, passage.number) not in by_source
            ]
            return [
                FeedbackPair(
                    query=query,
                    passage=passage.text,
                    chunk_id=passage.chunk_id,
                    doc_id=passage.doc_id,
                    label=vote.label,
                    answer_id=vote.answer_id,
                    user=vote.user,
                    via=vote.via,
                    at=vote.created_at,
                    comment=vote.comment,
                )
                for vote, query, passage in rows
            ]
