"""Why the knowledge-gap targets are missed on zaragoza: how well each per-answer signal tells a
question on a hidden topic from one on an indexed topic, and how often a "hidden" question is
in fact answered by a passage of another topic.

Offline, with the same embedder and the same hidden topics per seed as
`knowledge_gaps.py` (no services). For every model and seed, over all 497 questions against
the passages that stay indexed:

- AUC (hidden vs indexed questions) of three signals of a gap: a low top-1 similarity, a low
  z-score of the top-1 over the whole index, and a small margin of the top-1 over the next 9.
- Of the hidden-topic questions, the share whose top-1 passage (of another topic) is at least
  the low-confidence cut, so the gap report rightly treats them as answered, and the share
  whose top-1 is a near copy of the passage that answers them (cosine ≥ 0.8).
- Of the indexed-topic questions flagged as low-confidence, the share whose relevant passage
  is nevertheless in the top 3.
- Across the whole corpus: each passage's best cosine to a passage of another topic
  (quantiles), the redundancy that makes "hidden topic" a loose ground truth.

    python benchmarks/gap_signals.py [--models all-MiniLM-L6-v2,all-mpnet-base-v2] [--seeds 3]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from common import ZARAGOZA, machine, save
from knowledge_gaps import all_questions, hidden_topics

from indexing import Settings, compose
from indexing.evaluation.beir import load_beir

NEAR_COPY = 0.8


def auc(gap_like: np.ndarray, hidden: np.ndarray) -> float:
    """Chance that a random hidden-topic question scores more gap-like than an indexed one."""
    a, b = gap_like[hidden], gap_like[~hidden]
    return round(
        float((a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean()), 3
    )


def analyse(model: str, seeds: int) -> dict[str, object]:
    settings = Settings(embed_model=model)
    embedder = compose.build_embedder(settings)
    low_cut = compose.low_confidence(settings, embedder)
    corpus = load_beir(ZARAGOZA, "test").corpus
    paths = [d.metadata["path"] for d in corpus]
    topic_of = {d.metadata["path"]: d.metadata["title"] for d in corpus}
    topics = np.array([d.metadata["title"] for d in corpus])
    passages = np.asarray(embedder.embed([d.text for d in corpus]), dtype=np.float32)
    texts, passage_of = all_questions()
    qids = sorted(texts)
    questions = np.asarray(embedder.embed([texts[q] for q in qids]), dtype=np.float32)
    relevant = np.array([paths.index(passage_of[q]) for q in qids])
    question_topic = topics[relevant]
    similar = passages @ passages.T
    best_elsewhere = np.where(topics[:, None] != topics[None, :], similar, -1.0).max(axis=1)
    per_seed = []
    for seed in range(seeds):
        hidden_set = hidden_topics(topic_of, random.Random(seed))
        shown = np.flatnonzero(~np.isin(topics, list(hidden_set)))
        scores = questions @ passages[shown].T
        order = np.argsort(-scores, axis=1)
        ranked = np.take_along_axis(scores, order[:, :10], axis=1)
        top1 = ranked[:, 0]
        z = (top1 - scores.mean(axis=1)) / scores.std(axis=1)
        margin = top1 - ranked[:, 1:].mean(axis=1)
        hidden = np.isin(question_topic, list(hidden_set))
        top_passage = shown[order[:, 0]]
        near_copy = similar[top_passage, relevant] >= NEAR_COPY
        flagged_indexed = (~hidden) & (top1 < low_cut)
        in_top3 = (shown[order[:, :3]] == relevant[:, None]).any(axis=1)
        per_seed.append(
            {
                "seed": seed,
                "auc_low_top1": auc(-top1, hidden),
                "auc_low_z": auc(-z, hidden),
                "auc_small_margin": auc(-margin, hidden),
                "hidden_questions": int(hidden.sum()),
                "hidden_answered_above_low_cut": round(float((top1[hidden] >= low_cut).mean()), 3),
                "hidden_top1_is_near_copy": round(float(near_copy[hidden].mean()), 3),
                "indexed_flagged": int(flagged_indexed.sum()),
                "indexed_flagged_relevant_in_top3": round(
                    float(in_top3[flagged_indexed].mean()), 3
                ),
            }
        )
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
    return {
        "model": model,
        "low_confidence_cut": round(low_cut, 3),
        "passage_best_other_topic_cosine": {
            f"q{int(q * 100)}": round(float(np.quantile(best_elsewhere, q)), 3) for q in quantiles
        },
        "per_seed": per_seed,
        "mean": {
            key: round(float(np.mean([s[key] for s in per_seed])), 3)
            for key in per_seed[0]
            if key != "seed"
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, object] = {"dataset": str(ZARAGOZA), "machine": machine()}
    result["models"] = [analyse(m, args.seeds) for m in args.models.split(",")]
    save("gap_signals", result)


if __name__ == "__main__":
    main()
