"""Embedding throughput on ~250-token passages: Knowhere's embedder vs LlamaIndex's default.

Baseline: `HuggingFaceEmbedding` (llama-index-embeddings-huggingface) in fp32 with its
defaults. Each Knowhere precision is timed on the same texts, with the mean and minimum
cosine similarity of its vectors against the baseline's fp32 vectors.

    python benchmarks/embedding_throughput.py [--model all-mpnet-base-v2] [--n 96]
"""

from __future__ import annotations

import argparse
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


def timed(embed, texts: list[str]) -> tuple[np.ndarray, float]:
    embed(texts[:4])  # warm-up
    start = time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    return vectors, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    settings = Settings()
    path = models.resolve(args.model, settings.models_dir)

    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    baseline = HuggingFaceEmbedding(model_name=path, device="cpu")
    texts = long_passages(baseline._model.tokenizer, args.n)
    tokens = sum(len(baseline._model.tokenizer.tokenize(t)) for t in texts)
    ref, ref_seconds = timed(baseline.get_text_embedding_batch, texts)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    rows = [
        {
            "embedder": "llama-index HuggingFaceEmbedding fp32 (default)",
            "seconds": round(ref_seconds, 2),
            "texts_per_s": round(args.n / ref_seconds, 2),
            "speedup": 1.0,
        }
    ]
    for precision in args.precisions.split(","):
        embedder = SentenceEmbedder(args.model, path, precision=precision, batch_size=32)  # type: ignore[arg-type]
        embedder.warm_up()
        vectors, seconds = timed(embedder.embed, texts)
        cosine = np.sum(vectors * ref, axis=1)
        rows.append(
            {
                "embedder": f"knowhere SentenceEmbedder {embedder.precision}",
                "seconds": round(seconds, 2),
                "texts_per_s": round(args.n / seconds, 2),
                "speedup": round(ref_seconds / seconds, 2),
                "cosine_mean": round(float(cosine.mean()), 5),
                "cosine_min": round(float(cosine.min()), 5),
            }
        )
    save(
        f"embedding_throughput_{args.model}",
        {
            "model": args.model,
            "passages": args.n,
            "mean_tokens": round(tokens / args.n, 1),
            "machine": machine(),
            "matmul_peak_gflops": {
                "fp32": matmul_peak(torch.float32),
                "bf16": matmul_peak(torch.bfloat16),
            },
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
