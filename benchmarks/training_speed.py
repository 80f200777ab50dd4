"""How fast the embedder fine-tunes on this machine, against its own matmul peak.

Triplets are zaragoza's train questions with a relevant passage and a random other one (what
the loop trains on has this shape). For each precision, `learning.finetune.finetune` (the
loop's own code: MultipleNegativesRankingLoss, the trainer, the optimizer) runs one epoch;
the work is PyTorch's `FlopCounterMode` count of a forward and backward pass of the loss on
one batch, scaled to the epoch. Achieved GFLOP/s is reported as a share of the matmul peak
of the same precision, measured in the same run.

    python benchmarks/training_speed.py [--model all-MiniLM-L6-v2] [--triplets 512]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import torch
from common import ZARAGOZA, machine, matmul_peak, save

from indexing import Settings
from indexing.embedding import models
from indexing.evaluation.beir import load_beir
from indexing.learning.finetune import TrainParams, finetune
from indexing.learning.training_set import Triplet

TARGET_SHARE = 0.5


def triplets(count: int) -> list[Triplet]:
    data = load_beir(ZARAGOZA, "train")
    text = {d.id_.split(":", 1)[1]: d.text for d in data.corpus}
    ids = sorted(text)
    rng = random.Random(0)
    found = []
    for qid, relevant in sorted(data.qrels.items()):
        for doc in relevant:
            negative = rng.choice([i for i in ids if i not in relevant])
            found.append(Triplet(data.queries[qid], text[doc], text[negative], "mined"))
    rng.shuffle(found)
    return (found * (count // max(1, len(found)) + 1))[:count]


def flops_per_triplet(path: str, batch: list[Triplet], dtype: torch.dtype) -> float:
    """Forward and backward of the loss on one batch, per triplet (PyTorch's own count)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from torch.utils.flop_counter import FlopCounterMode

    model = SentenceTransformer(path, device="cpu")
    loss = MultipleNegativesRankingLoss(model)
    features = [
        model.preprocess([getattr(t, side) for t in batch])
        for side in ("anchor", "positive", "negative")
    ]
    with (
        FlopCounterMode(display=False) as counter,
        torch.autocast("cpu", dtype=dtype, enabled=dtype == torch.bfloat16),
    ):
        loss(features, torch.zeros(len(batch))).backward()
    return counter.get_total_flops() / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--triplets", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    path = models.resolve(args.model, Settings().models_dir)
    data = triplets(args.triplets)
    rows = []
    for precision in args.precisions.split(","):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        peak = matmul_peak(dtype)
        work = flops_per_triplet(path, data[: args.batch_size], dtype)
        params = TrainParams(epochs=1, batch_size=args.batch_size, precision=precision)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as scratch:
            run = finetune(path, data, Path(scratch) / "model", params, device="cpu")
        achieved = work * len(data) / run.seconds / 1e9
        rows.append(
            {
                "precision": run.precision,
                "seconds": round(run.seconds, 1),
                "seconds_per_1k_triplets_per_epoch": round(run.seconds_per_1k, 1),
                "gflop_per_triplet": round(work / 1e9, 2),
                "achieved_gflops": round(achieved, 1),
                "matmul_peak_gflops": peak,
                "share_of_peak": round(achieved / peak, 3),
                "target_share": TARGET_SHARE,
                "met": achieved / peak >= TARGET_SHARE,
            }
        )
        print(rows[-1], flush=True)
    report = {
        "model": args.model,
        "triplets": len(data),
        "batch_size": args.batch_size,
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "runs": rows,
    }
    save(f"training_speed_{args.model}", report)


if __name__ == "__main__":
    main()
