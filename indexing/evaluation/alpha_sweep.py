"""Choose a collection's hybrid weight α: sweep it over questions whose answers are known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..embedding.embedder import SentenceEmbedder
from ..search.fusion_weight import AlphaChoice
from ..store.chunk import Hit
from ..store.chunk_store import ChunkStore
from .metrics import score_run

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
# Fewer questions than this say more about the questions than about the collection.
MIN_QUESTIONS = 10


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


def choose_store_alpha(
    store: ChunkStore,
    embedder: SentenceEmbedder,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    origin: str,
    default: float,
    judged: Callable[[Hit], str],
) -> AlphaChoice:
    """`choose_alpha` on one collection's own hybrid search (each query embedded once, no
    audience filter: only the score leaves); `judged` gives a hit's id as `qrels` names it."""
    vectors = {text: embedder.embed_query(text).vector for text in queries.values()}

    def ranked(query: str, alpha: float) -> list[str]:
        hits = store.query(query, vectors[query], 30, alpha=alpha)
        return list(dict.fromkeys(judged(h) for h in hits))[:10]

    return choose_alpha(ranked, queries, qrels, origin, default)
