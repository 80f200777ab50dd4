"""Retrieval quality on ../shared/bench/zaragoza: MiniLM and mpnet, vector-only vs hybrid.

The hybrid weight alpha is tuned on `dev` and reported on `test` (never tuned on test).
Runs through the same code path as `knowhere eval`, against the configured Weaviate.

    knowhere services up
    python benchmarks/retrieval_quality.py [--models all-MiniLM-L6-v2,all-mpnet-base-v2]
"""

from __future__ import annotations

import argparse
import time

from common import ZARAGOZA, machine, save

from indexing import Settings
from indexing.jobs import evaluate_dataset

ALPHAS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    parser.add_argument("--dataset", default=str(ZARAGOZA))
    args = parser.parse_args()
    settings = Settings()
    report: dict[str, object] = {"dataset": args.dataset, "machine": machine(), "models": {}}
    for model in args.models.split(","):
        started = time.perf_counter()
        first = evaluate_dataset(settings, ZARAGOZA, "dev", model, "vector")
        index_seconds = time.perf_counter() - started
        sweep = {
            a: evaluate_dataset(settings, ZARAGOZA, "dev", model, "hybrid", a)["ndcg@10"]
            for a in ALPHAS
        }
        best = max(sweep, key=lambda a: (sweep[a], a))
        test = {
            "vector": evaluate_dataset(settings, ZARAGOZA, "test", model, "vector"),
            "bm25": evaluate_dataset(settings, ZARAGOZA, "test", model, "bm25"),
            "hybrid@0.5": evaluate_dataset(settings, ZARAGOZA, "test", model, "hybrid", 0.5),
            f"hybrid@{best}(dev)": evaluate_dataset(
                settings, ZARAGOZA, "test", model, "hybrid", best
            ),
        }
        report["models"][model] = {  # type: ignore[index]
            "first_eval_seconds_including_corpus_index": round(index_seconds, 1),
            "corpus_indexed": first["corpus_indexed"],
            "dev_vector_ndcg@10": first["ndcg@10"],
            "dev_alpha_sweep_ndcg@10": sweep,
            "best_alpha_dev": best,
            "test": {
                name: {m: r[m] for m in ("ndcg@10", "recall@10", "mrr@10", "n_queries")}
                for name, r in test.items()
            },
        }
    save("retrieval_quality", report)


if __name__ == "__main__":
    main()
