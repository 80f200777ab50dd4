"""The evaluation gate: a fine-tuned embedder replaces the current one only if it is better.

Both models rank the held-out dev passages for the dev queries (dense retrieval, nDCG@10 and
MRR@10) and the general-domain guard set (to catch forgetting).

Feedback only confirms passages the serving model already retrieved, so on dev it often ranks
them first already and nDCG@10 has little room to grow (mpnet: 0.96 on zaragoza's feedback).
So the gate also measures the separation: how far, in cosine, each dev query's positive
stands above the best other passage. A candidate is promoted when it
- gains `margin` dev nDCG@10, or `separation_margin` separation, without losing more than
  `tolerance` dev nDCG@10, and
- loses at most `tolerance` nDCG@10 on the guard set.
Deliberately wrong feedback lowers both dev measures and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..evaluation.metrics import mrr_at_k, ndcg_at_k
from .training_set import DevQuery

Encode = Callable[[list[str]], list[list[float]]]
K = 10


@dataclass(frozen=True)
class RetrievalSet:
    """Queries, a corpus and which passages answer which query."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]


@dataclass(frozen=True)
class Scores:
    ndcg: float
    mrr: float
    queries: int
    separation: float = 0.0  # mean cosine of the best positive minus the best other passage


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: list[str]
    current_dev: Scores
    candidate_dev: Scores
    current_guard: Scores
    candidate_guard: Scores

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def dev_set(dev: list[DevQuery], passages: dict[str, str]) -> RetrievalSet:
    queries = {str(i): q.query for i, q in enumerate(dev)}
    relevant = {str(i): set(q.relevant) for i, q in enumerate(dev)}
    return RetrievalSet(queries, passages, relevant)


def guard_set(path: Path | None = None) -> RetrievalSet:
    """General-domain questions and answers (JSONL of {query, passage}); default: bundled."""
    if path is None:
        text = resources.files("indexing").joinpath("data/guard.jsonl").read_text("utf-8")
        where = "indexing/data/guard.jsonl"
    else:
        text, where = path.read_text("utf-8"), str(path)
    queries, corpus, relevant = {}, {}, {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            queries[str(number)], corpus[str(number)] = record["query"], record["passage"]
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(f"{where}:{number}: expected {{query, passage}} ({err})") from err
        relevant[str(number)] = {str(number)}
    return RetrievalSet(queries, corpus, relevant)


def score(encode: Encode, data: RetrievalSet, k: int = K) -> Scores:
    """Dense retrieval over the whole corpus: mean nDCG@k and MRR@k."""
    if not data.queries:
        return Scores(0.0, 0.0, 0)
    ids = list(data.corpus)
    corpus = np.asarray(encode([data.corpus[i] for i in ids]), dtype=np.float32)
    qids = list(data.queries)
    queries = np.asarray(encode([data.queries[q] for q in qids]), dtype=np.float32)
    similarity = queries @ corpus.T
    ranking = np.argsort(-similarity, axis=1)[:, :k]
    position = {passage_id: j for j, passage_id in enumerate(ids)}
    ndcg = mrr = separation = 0.0
    for row, qid in enumerate(qids):
        ranked = [ids[j] for j in ranking[row]]
        judged = dict.fromkeys(data.relevant[qid], 1)
        ndcg += ndcg_at_k(ranked, judged, k)
        mrr += mrr_at_k(ranked, judged, k)
        positive = [position[p] for p in data.relevant[qid] if p in position]
        others = np.delete(similarity[row], positive)
        if positive and others.size:
            separation += float(similarity[row, positive].max() - others.max())
    n = len(qids)
    return Scores(round(ndcg / n, 4), round(mrr / n, 4), n, round(separation / n, 4))


def judge(
    current_dev: Scores,
    candidate_dev: Scores,
    current_guard: Scores,
    candidate_guard: Scores,
    margin: float,
    tolerance: float,
    separation_margin: float = 0.02,
) -> Verdict:
    reasons = []
    gain = candidate_dev.ndcg - current_dev.ndcg
    wider = candidate_dev.separation - current_dev.separation
    loss = current_guard.ndcg - candidate_guard.ndcg
    if current_dev.queries == 0:
        reasons.append("no dev queries to judge on")
    elif gain < -tolerance:
        reasons.append(f"dev nDCG@10 fell by {-gain:.4f}, more than the tolerance {tolerance}")
    elif gain < margin and wider < separation_margin:
        reasons.append(
            f"dev nDCG@10 gain {gain:+.4f} is below the margin {margin} and the separation "
            f"gain {wider:+.4f} below {separation_margin}"
        )
    if loss > tolerance:
        reasons.append(f"guard nDCG@10 fell by {loss:.4f}, more than the tolerance {tolerance}")
    return Verdict(not reasons, reasons, current_dev, candidate_dev, current_guard, candidate_guard)
