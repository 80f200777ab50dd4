"""Embedding throughput on ~250-token passages: Knowhere's embedder vs LlamaIndex's default,
and against the machine's own limit.

Baseline: `HuggingFaceEmbedding` (llama-index-embeddings-huggingface) in fp32 with its
defaults. Each Knowhere backend (PyTorch, OpenVINO) and precision is timed on the same texts
(best of `--repeat` passes), with the mean and minimum cosine similarity of its vectors
against the baseline's fp32 vectors. The work per text is counted by PyTorch's
`FlopCounterMode` on one forward pass; achieved GFLOP/s is reported as a share of the same
run's measured matmul peak for that precision.

    python benchmarks/embedding_throughput.py [--model all-mpnet-base-v2] [--n 96]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from common import machine, matmul_peak, save, zaragoza

from indexing import SentenceEmbedder, Settings
from indexing.embedding import models


def long_passages(tokenizer, n: int, tokens: int = 250) -> list[str]:
    """`n` passages of about `tokens` tokens cut from the zaragoza corpus."""
    words = [word for record in zaragoza("corpus") for word in record["text"].split()]
    passages, start = [], 0
    while len(passages) < n:
        end = start + 1
        while len(tokenizer.tokenize(" ".join(words[start:end]))) < tokens:
            end += 1
        passages.append(" ".join(words[start:end]))
        start = end % (len(words) - 400)
    return passages


def timed(embed, texts: list[str], repeat: int = 1) -> tuple[np.ndarray, float]:
    embed(texts[:4])  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        vectors = np.asarray(embed(texts), dtype=np.float32)
        best = min(best, time.perf_counter() - start)
    return vectors, best


def flops_per_text(embedder: SentenceEmbedder, texts: list[str]) -> float:
    """Floating-point operations of one forward pass, per text (PyTorch's own count)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = embedder.model
    features = model.preprocess(texts)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(features)
    return counter.get_total_flops() / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--backends", default="torch,openvino")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    settings = Settings()
    path = models.resolve(args.model, settings.models_dir)

    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    baseline = HuggingFaceEmbedding(model_name=path, device="cpu")
    texts = long_passages(baseline._model.tokenizer, args.n)
    tokens = sum(len(baseline._model.tokenizer.tokenize(t)) for t in texts)
    ref, ref_seconds = timed(baseline.get_text_embedding_batch, texts, args.repeat)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    rows = [
        {
            "embedder": "llama-index HuggingFaceEmbedding fp32 (default)",
            "seconds": round(ref_seconds, 2),
            "texts_per_s": round(args.n / ref_seconds, 2),
            "speedup": 1.0,
        }
    ]
    work = 0.0
    with tempfile.TemporaryDirectory() as compiled:
        for backend in args.backends.split(","):
            for precision in args.precisions.split(","):
                embedder = SentenceEmbedder(
                    args.model,
                    path,
                    precision=precision,  # type: ignore[arg-type]
                    batch_size=32,
                    backend=backend,  # type: ignore[arg-type]
                    compiled_dir=compiled,
                )
                embedder.warm_up()
                work = work or flops_per_text(embedder, texts)
                vectors, seconds = timed(embedder.embed, texts, args.repeat)
                cosine = np.sum(vectors * ref, axis=1)
                achieved = work * args.n / seconds / 1e9
                rows.append(
                    {
                        "embedder": f"knowhere {embedder.backend} {embedder.precision}",
                        "seconds": round(seconds, 2),
                        "texts_per_s": round(args.n / seconds, 2),
                        "speedup": round(ref_seconds / seconds, 2),
                        "achieved_gflops": round(achieved, 1),
                        "share_of_peak": round(achieved / peaks[embedder.precision], 3),
                        "cosine_mean": round(float(cosine.mean()), 5),
                        "cosine_min": round(float(cosine.min()), 5),
                    }
                )
                print(rows[-1], flush=True)
    rows[0]["achieved_gflops"] = round(work * args.n / ref_seconds / 1e9, 1)
    rows[0]["share_of_peak"] = round(rows[0]["achieved_gflops"] / peaks["fp32"], 3)
    save(
        f"embedding_throughput_{args.model}",
        {
            "model": args.model,
            "passages": args.n,
            "mean_tokens": round(tokens / args.n, 1),
            "machine": machine(),
            "gflop_per_text": round(work / 1e9, 2),
            "matmul_peak_gflops": peaks,
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
