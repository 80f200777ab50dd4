"""Choose a collection's hybrid weight α: sweep it over questions whose answers are known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..search.fusion_weight import AlphaChoice
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
