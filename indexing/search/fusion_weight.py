"""The hybrid weight α of one collection, chosen from that collection's own questions.

One constant tuned on one dataset does not carry over: a corpus of prose FAQs wants the
dense side, manuals full of option names want more BM25. So α is swept on questions whose
answers are known — a benchmark's dev split, 👍 feedback, resolved tickets — and the best
nDCG@10 is kept per collection in Redis, with where it came from. The retriever uses it;
an explicit `KNOWHERE_HYBRID_ALPHA` still wins, and a collection never tuned keeps the
model's default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import redis

from ..evaluation.metrics import score_run

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
# Fewer questions than this say more about the questions than about the collection.
MIN_QUESTIONS = 10


@dataclass(frozen=True)
class AlphaChoice:
    alpha: float
    origin: str  # where the questions came from
    questions: int
    ndcg_by_alpha: dict[str, float]
    chosen_at: str


def choose_alpha(
    rank: Callable[[str, float], list[str]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    origin: str,
    default: float,
) -> AlphaChoice:
    """Sweep α over the judged queries; the best nDCG@10 wins, a tie goes to the α nearer
    the default. `rank(query, alpha)` returns ranked ids of the kind `qrels` judges."""
    if len(qrels) < MIN_QUESTIONS:
        raise ValueError(
            f"{origin}: {len(qrels)} judged questions, at least {MIN_QUESTIONS} are needed"
        )
    scores = {}
    for alpha in SWEEP:
        rankings = {q: rank(queries[q], alpha) for q in qrels}
        scores[alpha] = score_run(rankings, qrels)["ndcg@10"]
    best = max(SWEEP, key=lambda a: (scores[a], -abs(a - default)))
    return AlphaChoice(
        alpha=best,
        origin=origin,
        questions=len(qrels),
        ndcg_by_alpha={str(a): s for a, s in scores.items()},
        chosen_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


class AlphaChoices:
    """The chosen α of each collection, shared by every process through Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @staticmethod
    def _key(collection: str) -> str:
        return f"knowhere/{collection}/alpha"

    def get(self, collection: str) -> AlphaChoice | None:
        raw = self._client.get(self._key(collection))
        return AlphaChoice(**json.loads(raw)) if raw else None  # type: ignore[arg-type]

    def alpha_of(self, collection: str) -> float | None:
        choice = self.get(collection)
        return choice.alpha if choice else None

    def set(self, collection: str, choice: AlphaChoice) -> None:
        self._client.set(self._key(collection), json.dumps(asdict(choice)))

    def clear(self, collection: str) -> None:
        self._client.delete(self._key(collection))
