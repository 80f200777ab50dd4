"""Search latency at 100k chunks: query embedding + the access filter of a 50-member channel
+ hybrid query, p50/p95 (target p95 ≤ 50 ms with mpnet on 2 cores).

Embedding 100k real chunks with mpnet takes hours on a 2-core CPU, so the collection is
filled with synthetic chunks: real zaragoza passages recombined as text (for BM25) with
vectors made from the passages' real mpnet vectors plus noise (for HNSW). Query time depends
on the number of objects, the vector size and the text index, not on what the text says.
Queries are the zaragoza questions, embedded for real on each request. 40 % of the chunks
carry one of 2,000 access lists (as in `access_control.py`), and each query comes from a
different random 50-member channel: working out which lists it may read and the filter are
inside the timed total. The query embedding is also timed with the PyTorch backend in the
same run (`--baseline torch`), the backend before OpenVINO.

    knowhere services up
    python benchmarks/search_latency.py [--chunks 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from access_control import channel, random_access
from common import machine, save, zaragoza

from indexing import PUBLIC, Chunk, ChunkStore, Retriever, Settings, audience_filter, compose
from indexing.search.tuning import default_alpha

LISTS = 2000


def fill(store: ChunkStore, embedder, n: int) -> None:
    passages = zaragoza("corpus")
    lists = random.Random(3)
    restricted = [random_access(lists) for _ in range(LISTS)]
    base = np.asarray(embedder.embed([p["text"] for p in passages]), dtype=np.float32)
    rng = np.random.default_rng(7)
    random.seed(7)
    batch: list[Chunk] = []
    for i in range(n):
        a, b = random.randrange(len(passages)), random.randrange(len(passages))
        vector = base[a] + 0.35 * base[b] + rng.normal(0, 0.02, base.shape[1])
        vector /= np.linalg.norm(vector)
        text = passages[a]["text"] + " " + passages[b]["text"][:200]
        batch.append(
            Chunk(
                id=f"00000000-0000-4000-8000-{i:012d}",
                doc_id=f"synthetic:{i}",
                text=text,
                vector=vector.tolist(),
                title=passages[a]["title"],
                source="synthetic",
                chunk_index=0,
                access=PUBLIC if lists.random() < 0.6 else lists.choice(restricted),
            )
        )
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    if batch:
        store.upsert(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument(
        "--baseline", default="torch", help="backend to time the query embedding in"
    )
    args = parser.parse_args()
    settings = Settings()
    embedder = compose.build_embedder(settings, args.model)
    baseline = compose.build_embedder(
        settings.model_copy(update={"embed_backend": args.baseline}), args.model
    )
    questions = [record["text"] for record in zaragoza("queries")]
    catalog = compose.access_catalog(settings)
    rng = random.Random(5)
    with compose.connect_weaviate(settings) as client:
        slug = "".join(c if c.isalnum() else "_" for c in args.model)
        store = ChunkStore(
            client, f"Bench_Latency_Access_{slug}", compose.open_access_lists(settings)
        )
        store.ensure(embedder.version, embedder.dimension)
        started = time.perf_counter()
        if store.count() < args.chunks:
            fill(store, embedder, args.chunks)
        fill_seconds = time.perf_counter() - started
        retriever = Retriever(store, embedder, default_alpha(args.model))
        for q in questions[:10]:
            retriever.search(q, 5)  # warm-up
            baseline.embed_query(q)
        catalog.readable(channel(random.Random(0)))  # loads the catalog of access lists
        embed_ms, total_ms, vector_ms, bm25_ms, baseline_ms = [], [], [], [], []
        for q in (questions * 2)[: args.queries]:
            audience = channel(rng)
            t0 = time.perf_counter()
            vector = embedder.embed_query(q).vector
            t1 = time.perf_counter()
            chosen = audience_filter(audience, catalog.readable(audience))
            store.query(q, vector, 5, mode="hybrid", alpha=retriever.alpha, filters=chosen)
            t2 = time.perf_counter()
            store.query(q, vector, 5, mode="vector")
            t3 = time.perf_counter()
            store.query(q, None, 5, mode="bm25")
            t4 = time.perf_counter()
            embed_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            vector_ms.append((t3 - t2) * 1000)
            bm25_ms.append((t4 - t3) * 1000)
            t5 = time.perf_counter()
            baseline.embed_query(q)
            baseline_ms.append((time.perf_counter() - t5) * 1000)
        count = store.count()

    def pct(values: list[float], p: float) -> float:
        return round(float(np.percentile(values, p)), 1)

    save(
        f"search_latency_{args.model}",
        {
            "model": args.model,
            "chunks": count,
            "queries": len(total_ms),
            "fill_seconds": round(fill_seconds, 1),
            "machine": machine(),
            "backend": f"{embedder.backend} {embedder.precision}",
            "query_embedding_ms": {"p50": pct(embed_ms, 50), "p95": pct(embed_ms, 95)},
            "baseline_backend": f"{baseline.backend} {baseline.precision}",
            "baseline_query_embedding_ms": {
                "p50": pct(baseline_ms, 50),
                "p95": pct(baseline_ms, 95),
            },
            "vector_query_only_ms": {"p50": pct(vector_ms, 50), "p95": pct(vector_ms, 95)},
            "bm25_query_only_ms": {"p50": pct(bm25_ms, 50), "p95": pct(bm25_ms, 95)},
            "embedding_plus_filtered_hybrid_ms": {
                "p50": pct(total_ms, 50),
                "p95": pct(total_ms, 95),
                "p99": pct(total_ms, 99),
            },
            "target_p95_ms": 50,
        },
    )


if __name__ == "__main__":
    main()
