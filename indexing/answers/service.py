"""The answer service: one question (and its thread) in, one cited answer out.

Transport-neutral: the Slack and Teams adapters, the CLI and the `answers` Celery queue all
call `AnswerService.ask`. Steps: rewrite a follow-up into a standalone query → hybrid
retrieval filtered to what the audience may read → passages within a token budget →
generation that cites sources by number → mentions taken out of the text → sources older
than `stale_days` marked (an answer made only of them is marked stale) → an expert's verified
answer to a question that means the same, when the audience may read it, put first. When nothing is
relevant enough it says so and lists the closest sources instead of guessing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..access.model import Audience
from ..search.retriever import Retriever, SearchResult
from ..store.chunk import Hit
from .answer import Answer, VerifiedAnswer, build_answer
from .freshness import mark_stale
from .generator import Generator, Rewriter
from .turns import Turn
from .verified import VerifiedLookup

NOT_FOUND = (
    "I couldn't find an answer to that in the sources you can see. "
    "These are the closest ones I found:"
)
NOTHING_AT_ALL = "I couldn't find anything about that in the sources you can see."

# Slack's special mentions and user/group/channel references, and the plain-text forms
# that clients turn into notifications. Documents are data: none of these may reach a chat.
_ANGLE_MENTION = re.compile(r"<(?:!(?:channel|here|everyone)|!subteam\^[^>]*|@[UW][A-Z0-9]+)[^>]*>")
_AT_MENTION = re.compile(r"(?<![\w@])@(channel|here|everyone|all)\b", re.IGNORECASE)
_FOLLOW_UP_WORDS = 12


def strip_mentions(text: str) -> str:
    """`text` without @channel/@here/@everyone or user/group mentions (the words are kept)."""
    text = _ANGLE_MENTION.sub("", text)
    return _AT_MENTION.sub(r"\1", text)


def standalone_query(
    question: str, history: Sequence[Turn], rewriter: Rewriter | None
) -> tuple[str, str]:
    """The question made understandable without its thread: (for retrieval, for generation).

    With an LLM, the LLM rewrites it and both use the rewrite. Offline, a short follow-up
    ("and on Linux?") is joined to the previous question for retrieval, which keeps the topic
    words; the sentences that answer it are then chosen by the follow-up itself.
    """
    previous = [t.text for t in history if t.role == "user" and t.text.strip()]
    if not previous:
        return question, question
    if rewriter is not None:
        rewritten = rewriter.rewrite(question, [(t.role, t.text) for t in history])
        if rewritten:
            return rewritten, rewritten
    if len(question.split()) <= _FOLLOW_UP_WORDS:
        return f"{previous[-1]} {question}", question
    return question, question


def within_budget(
    hits: Sequence[Hit], budget: int, count_tokens: Callable[[str], int]
) -> list[Hit]:
    """The best hits whose text fits in `budget` tokens (always at least the best one)."""
    chosen: list[Hit] = []
    used = 0
    for hit in hits:
        cost = count_tokens(hit.text)
        if chosen and used + cost > budget:
            break
        chosen.append(hit)
        used += cost
    return chosen


@dataclass
class AnswerService:
    """Retrieval + generation with access control; see the module docstring."""

    retriever: Retriever
    generator: Generator
    count_tokens: Callable[[str], int]
    top_k: int = 5
    context_tokens: int = 1500
    min_relevance: float = 0.3
    # version → the threshold of the embedder that served (trained ones carry their own).
    min_relevance_of: Callable[[str], float] | None = None
    closest: int = 3
    stale_days: int = 365
    verified: VerifiedLookup | None = None  # experts' answers, served first (None: none)

    def ask(
        self,
        question: str,
        audience: Audience,
        history: Sequence[Turn] = (),
        asker: Audience | None = None,
    ) -> Answer:
        """The answer for `audience`. With `asker` (the person who asked in a channel), the
        answer also says whether they may read relevant sources the audience may not: `more`,
        for a private answer they can ask for (it says nothing about what those sources are)."""
        started = time.perf_counter()
        answer, found = self._answer(question, audience, history)
        verified = self._verified(found, audience)
        if verified is not None:
            answer = replace(answer, verified=verified)
        if asker is not None:
            more = self._more_for(asker, audience, answer.standalone_query, found)
            answer = replace(answer, more=more)
        return replace(answer, seconds=round(time.perf_counter() - started, 4))

    def _answer(
        self, question: str, audience: Audience, history: Sequence[Turn]
    ) -> tuple[Answer, SearchResult]:
        question = question.strip()
        rewriter = self.generator if hasattr(self.generator, "rewrite") else None
        query, to_answer = standalone_query(question, history, rewriter)  # type: ignore[arg-type]
        found = self.retrieve(query, audience)
        hits = found.hits
        confidence = max((h.similarity for h in hits if h.similarity is not None), default=None)
        if not hits:
            nothing = Answer(question, NOTHING_AT_ALL, [], self.generator.name)
            return self._finish(nothing, found, query), found
        if confidence is not None and confidence < self.threshold(found.embedder):
            closest = build_answer(query, "", hits[: self.closest], self.generator.name)
            result = replace(closest, question=question, text=NOT_FOUND, found=False)
            return self._finish(result, found, query, confidence), found
        passages = within_budget(hits, self.context_tokens, self.count_tokens)
        text = self.generator.generate(to_answer, passages, found.query)
        result = build_answer(question, text, passages, self.generator.name)
        return self._finish(result, found, query, confidence), found

    def _verified(self, found: SearchResult, audience: Audience) -> VerifiedAnswer | None:
        """An expert's answer to a question that means the same, that `audience` may read."""
        if self.verified is None or found.query is None:
            return None
        store, embedder = self.retriever.current()
        if found.query.embedder != embedder.version:
            return None  # the serving model changed between the two lines: no match this time
        return self.verified.match(
            found.query.vector, embedder.version, embedder.embed, store, audience
        )

    def _more_for(
        self, asker: Audience, audience: Audience, query: str, found: SearchResult
    ) -> bool:
        """Whether `asker`'s own search for `query` (embedded once, by the first search) finds
        relevant hits that not all of `audience` may read."""
        theirs = self.retriever.search(query, self.top_k, asker, embedded=found.query)
        return any(
            not audience.may_read(h.access)
            and (h.similarity is None or h.similarity >= self.threshold(theirs.embedder))
            for h in theirs.hits
        )

    def threshold(self, version: str) -> float:
        """Below this similarity, hits from `version`'s collection are not relevant."""
        return self.min_relevance_of(version) if self.min_relevance_of else self.min_relevance

    def retrieve(self, query: str, audience: Audience) -> SearchResult:
        """Hits every member of `audience` may read: filtered in Weaviate, checked again."""
        return self.retriever.search(query, self.top_k, audience)

    def warm_up(self) -> None:
        """Load the serving model now, not on the first question."""
        self.retriever.current()[1].warm_up()

    def _finish(
        self,
        result: Answer,
        found: SearchResult,
        query: str,
        confidence: float | None = None,
    ) -> Answer:
        result = mark_stale(result, self.stale_days, datetime.now(UTC))
        citations = [
            replace(c, snippet=strip_mentions(c.snippet), title=strip_mentions(c.title))
            for c in result.citations
        ]
        return replace(
            result,
            text=strip_mentions(result.text),
            citations=citations,
            standalone_query=query,
            confidence=confidence,
            embedder=found.embedder,
        )
