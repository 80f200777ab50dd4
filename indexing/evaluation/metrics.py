"""Ranking metrics: nDCG@k, Recall@k and MRR@k, and their means over a run."""

from __future__ import annotations

import math


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(
    rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 10
) -> dict[str, float]:
    """Mean metrics over the judged queries (a query with no ranking scores zero)."""
    n = len(qrels)
    totals = {f"ndcg@{k}": 0.0, f"recall@{k}": 0.0, f"mrr@{k}": 0.0}
    for qid, relevant in qrels.items():
        ranked = rankings.get(qid, [])
        totals[f"ndcg@{k}"] += ndcg_at_k(ranked, relevant, k)
        totals[f"recall@{k}"] += recall_at_k(ranked, relevant, k)
        totals[f"mrr@{k}"] += mrr_at_k(ranked, relevant, k)
    result = {name: round(value / n, 4) if n else 0.0 for name, value in totals.items()}
    result["n_queries"] = n
    return result
