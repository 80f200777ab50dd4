"""An answer with its numbered citations, and how citations are attached to generated text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..store.chunk import Hit


@dataclass(frozen=True)
class Citation:
    number: int
    title: str
    url: str
    heading: str
    snippet: str
    chunk_id: str
    doc_id: str
    label: str
    text: str = ""  # the whole passage, kept with the answer log for training pairs
    updated_at: str = ""  # ISO time its document last changed ("" when the source does not say)
    updated_by: str = ""  # who changed it last
    stale: bool = False  # older than KNOWHERE_STALE_DAYS when answered


@dataclass(frozen=True)
class VerifiedAnswer:
    """An expert's answer to a question that means the same as the one asked, shown first."""

    id: str
    question: str  # the question it was verified for
    text: str
    citations: list[Citation]
    verified_by: str  # the expert's name
    verified_at: datetime
    similarity: float  # of the question asked to `question` (serving embedder, cosine)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "citations": [c.__dict__ for c in self.citations],
            "verified_at": self.verified_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifiedAnswer:
        return cls(
            **{
                **data,
                "citations": [Citation(**c) for c in data["citations"]],
                "verified_at": datetime.fromisoformat(data["verified_at"]),
            }
        )


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: list[Citation]
    generator: str
    retrieved: list[str] = field(default_factory=list)  # chunk ids, best first
    standalone_query: str = ""  # the question rewritten with its thread's context
    confidence: float | None = None  # best query-passage similarity, when known
    found: bool = True  # False: nothing relevant, the citations are only the closest sources
    embedder: str = ""
    seconds: float | None = None  # how long the asker waited for it
    stale: bool = False  # found, and every source older than KNOWHERE_STALE_DAYS
    more: bool = False  # the asker may read relevant sources this answer's audience may not
    verified: VerifiedAnswer | None = None  # shown first: an expert's answer to the same question

    def as_shown(self) -> Answer:
        """The answer as its audience sees it: whole passages left out (snippets stay)."""
        verified = self.verified
        if verified is not None:
            verified = replace(
                verified, citations=[replace(c, text="") for c in verified.citations]
            )
        return replace(
            self, citations=[replace(c, text="") for c in self.citations], verified=verified
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "generator": self.generator,
            "citations": [c.__dict__ for c in self.citations],
            "retrieved": self.retrieved,
            "standalone_query": self.standalone_query or self.question,
            "confidence": self.confidence,
            "found": self.found,
            "embedder": self.embedder,
            "seconds": self.seconds,
            "stale": self.stale,
            "more": self.more,
            "verified": self.verified.as_dict() if self.verified else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        return cls(
            question=data["question"],
            text=data["answer"],
            citations=[Citation(**c) for c in data["citations"]],
            generator=data["generator"],
            retrieved=list(data.get("retrieved", [])),
            standalone_query=data.get("standalone_query", ""),
            confidence=data.get("confidence"),
            found=bool(data.get("found", True)),
            embedder=data.get("embedder", ""),
            seconds=data.get("seconds"),
            stale=bool(data.get("stale", False)),
            more=bool(data.get("more", False)),
            verified=VerifiedAnswer.from_dict(data["verified"]) if data.get("verified") else None,
        )


_CITE = re.compile(r"\[(\d+)\]")


def _citation(number: int, hit: Hit) -> Citation:
    return Citation(
        number=number,
        title=hit.title,
        url=hit.url,
        heading=hit.heading,
        snippet=hit.text[:240],
        chunk_id=hit.chunk_id,
        doc_id=hit.doc_id,
        label=hit.label,
        text=hit.text,
        updated_at=hit.updated_at.isoformat() if hit.updated_at else "",
        updated_by=hit.updated_by,
    )


def build_answer(question: str, text: str, passages: list[Hit], generator: str) -> Answer:
    """Attach the cited passages (or all given ones when the text cites none) as citations."""
    cited = sorted({int(n) for n in _CITE.findall(text) if 1 <= int(n) <= len(passages)})
    numbers = cited or list(range(1, len(passages) + 1))
    citations = [_citation(n, passages[n - 1]) for n in numbers]
    return Answer(question, text, citations, generator, [p.chunk_id for p in passages])
