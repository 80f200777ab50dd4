"""Retrieval quality off the home ground: the software-manual benchmarks built from Debian
packages (benchmarks/manuals/build.py), and zaragoza, Knowhere's pipeline beside its two
baselines — plain dense on whole passages and BM25 over passages — all computed in this run.

    knowhere services up
    python benchmarks/manual_quality.py [--model all-mpnet-base-v2] [--split test]

Knowhere's rows go through `knowhere eval`'s code (chunking, Weaviate, exact terms, fusion);
the hybrid row's α is chosen on the dataset's dev split (`knowhere eval --tune-on dev`),
never on the split reported. The manual datasets are built first if missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import ZARAGOZA, machine, matmul_peak, save

sys.path.insert(0, str(Path(__file__).resolve().parent / "manuals"))

import torch  # noqa: E402
from baselines import bm25, dense  # noqa: E402
from build import BUILDERS, build  # noqa: E402

from indexing import Settings  # noqa: E402
from indexing.embedding.models import resolve  # noqa: E402
from indexing.evaluation.beir import load_beir  # noqa: E402
from indexing.jobs import evaluate_dataset  # noqa: E402

METRICS = ("ndcg@10", "recall@10", "mrr@10", "n_queries")


def _row(result: dict) -> dict:
    return {m: result[m] for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--split", default="test")
    parser.add_argument("--only", choices=[*sorted(BUILDERS), "zaragoza"], action="append")
    args = parser.parse_args()
    settings = Settings()
    names = args.only or [*BUILDERS, "zaragoza"]
    out = settings.home / "bench"
    missing = [n for n in names if n in BUILDERS and not (out / n / "manifest.json").exists()]
    if missing:
        build(out, settings.home / "debs", missing)
    model_path = resolve(args.model, settings.models_dir)
    report: dict[str, object] = {
        "machine": machine(),
        "peak_gflops": {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)},
        "model": args.model,
        "split": args.split,
        "datasets": {},
    }
    alpha_sweeps: dict[str, object] = {}
    for name in names:
        folder = ZARAGOZA if name == "zaragoza" else out / name
        dataset = load_beir(folder, args.split)
        rows = {
            "baseline dense (whole passages)": dense(
                dataset, model_path, settings.home / "cache" / "baselines"
            ),
            "baseline BM25 (passages)": bm25(dataset),
        }
        for mode in ("hybrid", "vector", "bm25"):
            tune = "dev" if mode == "hybrid" and args.split != "dev" else None
            result = evaluate_dataset(settings, folder, args.split, args.model, mode, tune_on=tune)
            label = f"knowhere {mode}" + (f" α={result['alpha']} (dev)" if tune else "")
            rows[label] = result
            if tune:
                alpha_sweeps[name] = result["alpha_chosen_on"]
        dense_ndcg = rows["baseline dense (whole passages)"]["ndcg@10"]
        report["datasets"][name] = {  # type: ignore[index]
            "rows": {label: _row(r) for label, r in rows.items()},
            "ratio_to_dense": {
                label: round(r["ndcg@10"] / dense_ndcg, 3) if dense_ndcg else None
                for label, r in rows.items()
            },
        }
    report["dev_alpha_sweeps"] = alpha_sweeps
    save(f"manual_quality_{args.split}", report)


if __name__ == "__main__":
    main()
