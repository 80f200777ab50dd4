"""Verified answers: an expert's answer, served first to later questions that mean the same.

Members of the experts group (`KNOWHERE_EXPERTS_GROUP`) mark an answer *Verified*, optionally
editing its text. It is stored here with its sources and each source's content hash at that
moment. A later question is compared with every verified question by embedding similarity
(the serving model; cosine over `threshold`, chosen on held-out paraphrases by
`benchmarks/verified_answers.py`, never a keyword match). The best match is served first,
"Verified by X on date", with its sources, when:
- it is not older than `days` (`KNOWHERE_VERIFIED_DAYS`) and no expert withdrew it;
- every source still exists unchanged (a changed or removed source ends the verification:
  the expert should look again);
- everyone the answer is for may read every source (the audience rule, checked against the
  index as it is now).
Questions are embedded when first matched by a model (the bots may have none) and again
after the serving model changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ..access.model import Audience
from ..errors import KnowhereError
from ..infra.database import Base, SqlStore, utc_now
from ..store.chunk_store import ChunkStore
from .answer import Citation, VerifiedAnswer
from .log import StoredAnswer

SOURCE_CHANGED = "source changed"
WITHDRAWN = "withdrawn"


class VerifiedRow(Base):
    __tablename__ = "verified_answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # citations (no passage text)
    hashes: Mapped[dict[str, str]] = mapped_column(JSON)  # chunk id -> its document's hash
    verified_by: Mapped[str] = mapped_column(String(128))
    verified_by_name: Mapped[str] = mapped_column(String(256))
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(128))
    ended_reason: Mapped[str | None] = mapped_column(String(32))  # withdrawn, source changed
    embedder: Mapped[str] = mapped_column(String(300), default="")  # whose vector `vector` is
    vector: Mapped[list[float] | None] = mapped_column(JSON)


@dataclass(frozen=True)
class Verification:
    """One verified answer as stored."""

    id: str
    answer_id: str
    question: str
    text: str
    citations: list[Citation]
    hashes: dict[str, str]
    verified_by: str
    verified_by_name: str
    verified_at: datetime
    expires_at: datetime
    embedder: str
    vector: list[float] | None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _verification(row: VerifiedRow) -> Verification:
    return Verification(
        id=row.id,
        answer_id=row.answer_id,
        question=row.question,
        text=row.text,
        citations=[Citation(**c) for c in row.sources],
        hashes=dict(row.hashes),
        verified_by=row.verified_by,
        verified_by_name=row.verified_by_name,
        verified_at=_aware(row.verified_at),
        expires_at=_aware(row.expires_at),
        embedder=row.embedder,
        vector=row.vector,
    )


class VerifiedAnswers(SqlStore):
    """The verified answers (same database as the answer log)."""

    def add(
        self,
        answer_id: str,
        question: str,
        text: str,
        citations: Sequence[Citation],
        hashes: dict[str, str],
        verified_by: str,
        verified_by_name: str,
        days: int,
        now: datetime | None = None,
    ) -> str:
        moment = now or datetime.now(UTC)
        verified_id = uuid.uuid4().hex
        with self._session() as session:
            session.add(
                VerifiedRow(
                    id=verified_id,
                    answer_id=answer_id,
                    question=question,
                    text=text,
                    sources=[replace(c, text="").__dict__ for c in citations],
                    hashes=hashes,
                    verified_by=verified_by,
                    verified_by_name=verified_by_name,
                    verified_at=moment,
                    expires_at=moment + timedelta(days=days),
                )
            )
        return verified_id

    def get(self, verified_id: str) -> Verification | None:
        with self._session() as session:
            row = session.get(VerifiedRow, verified_id)
            return _verification(row) if row is not None else None

    def active(self, now: datetime | None = None) -> list[Verification]:
        """Verified answers neither withdrawn, ended by a changed source, nor expired."""
        moment = now or datetime.now(UTC)
        with self._session() as session:
            rows = session.scalars(
                select(VerifiedRow)
                .where(VerifiedRow.ended_at.is_(None), VerifiedRow.expires_at > moment)
                .order_by(VerifiedRow.verified_at)
            ).all()
            return [_verification(row) for row in rows]

    def end(self, verified_id: str, by: str, reason: str) -> bool:
        """Withdraw a verified answer (or end it: a source changed); False if already ended."""
        with self._session() as session:
            ended = session.execute(
                update(VerifiedRow)
                .where(VerifiedRow.id == verified_id, VerifiedRow.ended_at.is_(None))
                .values(ended_at=utc_now(), ended_by=by, ended_reason=reason)
            )
            return bool(getattr(ended, "rowcount", 0))

    def set_vector(self, verified_id: str, embedder: str, vector: list[float]) -> None:
        with self._session() as session:
            session.execute(
                update(VerifiedRow)
                .where(VerifiedRow.id == verified_id)
                .values(embedder=embedder, vector=vector)
            )


class VerificationRefused(KnowhereError):
    """An answer that cannot be verified, and why (a sentence for the expert)."""


def verify_answer(
    answers: VerifiedAnswers,
    store: ChunkStore,
    stored: StoredAnswer,
    text: str,
    by: str,
    by_name: str,
    days: int,
) -> str:
    """Store `stored` as verified by `by` with `text` (the expert's edit, or the answer's own);
    its id. Refused for an answer without sources (they decide who may see it) and for one
    whose sources changed since it was given."""
    answer = stored.answer
    if not answer.found or not answer.citations:
        raise VerificationRefused(
            "Only an answer with sources can be verified: its sources decide who may see it."
        )
    if not text.strip():
        raise VerificationRefused("A verified answer needs its text.")
    chunk_ids = list(dict.fromkeys(c.chunk_id for c in answer.citations))
    hashes = source_hashes(store, chunk_ids)
    if len(hashes) != len(chunk_ids):
        raise VerificationRefused(
            "A source of this answer has changed or gone since it was given: ask again and "
            "verify the new answer."
        )
    question = answer.standalone_query or answer.question
    return answers.add(
        stored.id, question, text.strip(), answer.citations, hashes, by, by_name, days
    )


def source_hashes(store: ChunkStore, chunk_ids: Sequence[str]) -> dict[str, str]:
    """Each stored chunk's document content hash (missing chunks are left out)."""
    return {chunk.id: chunk.content_hash for chunk in store.described(list(chunk_ids))}


@dataclass
class VerifiedLookup:
    """Finds the verified answer for a question (see the module docstring)."""

    answers: VerifiedAnswers
    threshold: float
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def match(
        self,
        vector: Sequence[float],
        embedder_version: str,
        embed: Callable[[list[str]], list[list[float]]],
        store: ChunkStore,
        audience: Audience,
    ) -> VerifiedAnswer | None:
        """The verified answer whose question is closest to the one embedded as `vector` (by
        `embed`, version `embedder_version`) over the threshold, that `audience` may read."""
        candidates = self.answers.active(self.clock())
        if not candidates:
            return None
        vectors = self._vectors(candidates, embedder_version, embed)
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        similarities = vectors @ query
        for index in np.argsort(-similarities):
            similarity = float(similarities[index])
            if similarity < self.threshold:
                return None
            found = candidates[int(index)]
            if self._readable(found, store, audience):
                return VerifiedAnswer(
                    id=found.id,
                    question=found.question,
                    text=found.text,
                    citations=found.citations,
                    verified_by=found.verified_by_name or found.verified_by,
                    verified_at=found.verified_at,
                    similarity=round(similarity, 4),
                )
        return None

    def _vectors(
        self,
        candidates: list[Verification],
        version: str,
        embed: Callable[[list[str]], list[list[float]]],
    ) -> np.ndarray:
        """Unit vectors of the candidates' questions by `version`, embedding (and storing)
        those not yet embedded by it."""
        stale = [c for c in candidates if c.embedder != version or not c.vector]
        fresh = dict(zip([c.id for c in stale], embed([c.question for c in stale]), strict=True))
        for verified_id, vector in fresh.items():
            self.answers.set_vector(verified_id, version, list(map(float, vector)))
        rows = [fresh.get(c.id) or c.vector or [] for c in candidates]
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)

    def _readable(self, found: Verification, store: ChunkStore, audience: Audience) -> bool:
        return readable(self.answers, found, store, audience)


def readable(
    answers: VerifiedAnswers, found: Verification, store: ChunkStore, audience: Audience
) -> bool:
    """Every source of `found` exists unchanged (else the verification ends) and `audience`
    may read it."""
    chunk_ids = [c.chunk_id for c in found.citations]
    stored = {chunk.id: chunk for chunk in store.described(chunk_ids)}
    changed = [
        i for i in chunk_ids if i not in stored or stored[i].content_hash != found.hashes.get(i)
    ]
    if changed:
        answers.end(found.id, "knowhere", SOURCE_CHANGED)
        return False
    return all(audience.may_read(stored[i].access) for i in chunk_ids)


def verified_questions(
    answers: VerifiedAnswers,
    store: ChunkStore,
    audience: Audience,
    limit: int,
    now: datetime | None = None,
) -> list[str]:
    """The questions of the newest verified answers `audience` may read (every source), at
    most `limit`: what a person could ask and get an expert's answer to. A question is only
    offered to those who may read its answer, since a question can tell too."""
    questions: list[str] = []
    for found in reversed(answers.active(now)):  # newest first
        if len(questions) == limit:
            break
        if found.question not in questions and readable(answers, found, store, audience):
            questions.append(found.question)
    return questions
