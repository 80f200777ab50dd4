"""The hybrid weight α of one collection, chosen from that collection's own questions.

One constant tuned on one dataset does not carry over: a corpus of prose FAQs wants the
dense side, manuals full of option names want more BM25. So α is swept on questions whose
answers are known — a benchmark's dev split or 👍 feedback — and the best
nDCG@10 is kept per collection in Redis, with where it came from. The retriever uses it;
an explicit `KNOWHERE_HYBRID_ALPHA` still wins, and a collection never tuned keeps the
model's default. The sweep itself is `evaluation.alpha_sweep.choose_alpha`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import redis


@dataclass(frozen=True)
class AlphaChoice:
    alpha: float
    origin: str  # where the questions came from
    questions: int
    ndcg_by_alpha: dict[str, float]
    chosen_at: str


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
