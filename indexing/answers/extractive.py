"""The offline default: quote the sentences of the top passages closest to the question."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np

from ..embedding.embedder import EmbeddedQuery, SentenceEmbedder
from ..store.chunk import Hit
from .generator import NO_ANSWER

SENTENCE_CACHE = 20_000  # sentence vectors kept by the extractive generator


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def split_sentences(text: str) -> list[str]:
    flat = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return [s.strip() for s in _SENTENCE_END.split(flat) if len(s.strip()) > 2]


class ExtractiveGenerator:
    """Quotes the sentences of the top passages that are closest to the question."""

    name = "extractive"

    def __init__(
        self,
        embedder: SentenceEmbedder,
        max_sentences: int = 3,
        margin: float = 0.1,
        passage_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.margin = margin  # keep sentences scoring within this of the best one
        self.passage_weight = passage_weight
        # Popular passages come back again and again: their sentences are embedded once.
        self._sentences: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._sentences))
            if missing:
                for sentence, vector in zip(
                    missing, np.asarray(self.embedder.embed(missing)), strict=True
                ):
                    self._sentences[sentence] = vector
            for sentence in sentences:
                self._sentences.move_to_end(sentence)
            while len(self._sentences) > SENTENCE_CACHE:
                self._sentences.popitem(last=False)
            return np.stack([self._sentences[s] for s in sentences])

    def generate(
        self, question: str, passages: list[Hit], query: EmbeddedQuery | None = None
    ) -> str:
        candidates = [
            (number, sentence)
            for number, hit in enumerate(passages, start=1)
            for sentence in split_sentences(hit.text)
        ]
        if not candidates:
            return NO_ANSWER
        # The question as retrieval embedded it, when that was this model and this text.
        reuse = query is not None and (query.embedder, query.text) == (
            self.embedder.version,
            question,
        )
        asked = np.asarray(query.vector if reuse and query else self.embedder.embed([question])[0])
        sentences = self._sentence_vectors([s for _, s in candidates])
        # Sentence-to-question similarity plus the passage's retrieval score (fused hybrid
        # score, best passage = 1): a sentence of a well-ranked passage beats a lookalike.
        retrieval = np.asarray([passages[number - 1].score for number, _ in candidates])
        scores = sentences @ asked + self.passage_weight * retrieval
        top = np.argsort(-scores)[: self.max_sentences]
        best = [i for i in top if scores[i] >= scores[top[0]] - self.margin]
        best_by_passage = sorted(best, key=lambda i: (candidates[i][0], i))
        return " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in best_by_passage)
