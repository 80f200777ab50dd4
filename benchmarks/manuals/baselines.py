"""The two baselines every retrieval benchmark is read against, on whole passages:

- dense: a plain sentence-transformers model encoding "title text" per passage (BEIR's way),
  ranked by cosine similarity;
- BM25: Okapi BM25 (rank-bm25, default k1/b) over lower-cased word tokens of title and text.

Neither chunks, fuses or filters: they are what Knowhere's pipeline has to beat.
Passage embeddings are cached by model and corpus digest (they only depend on those).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi
from sentence_transformers import SentenceTransformer

from indexing.evaluation.beir import BeirDataset
from indexing.evaluation.metrics import score_run

TOKEN = re.compile(r"\w+")


def _texts(dataset: BeirDataset) -> tuple[list[str], list[str]]:
    ids = [str(d.metadata["path"]) for d in dataset.corpus]
    texts = [f"{d.metadata['title']} {d.text}".strip() for d in dataset.corpus]
    return ids, texts


def _top(scores: np.ndarray, ids: list[str], k: int) -> list[str]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order]


def dense(dataset: BeirDataset, model_path: str, cache: Path, k: int = 10) -> dict[str, float]:
    ids, texts = _texts(dataset)
    model = SentenceTransformer(model_path, device="cpu")
    digest = hashlib.sha256("\n".join(texts).encode() + model_path.encode()).hexdigest()[:16]
    cached = cache / f"{dataset.name}-{Path(model_path).name}-{digest}.npy"
    if cached.exists():
        passages = np.load(cached)
    else:
        passages = model.encode(texts, batch_size=32, normalize_embeddings=True)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cached, passages)
    wanted = list(dataset.qrels)
    queries = model.encode([dataset.queries[q] for q in wanted], normalize_embeddings=True)
    rankings = {q: _top(passages @ v, ids, k) for q, v in zip(wanted, queries, strict=True)}
    return score_run(rankings, dataset.qrels, k)


def bm25(dataset: BeirDataset, k: int = 10) -> dict[str, float]:
    ids, texts = _texts(dataset)
    index = BM25Okapi([TOKEN.findall(t.lower()) for t in texts])
    rankings = {
        q: _top(index.get_scores(TOKEN.findall(dataset.queries[q].lower())), ids, k)
        for q in dataset.qrels
    }
    return score_run(rankings, dataset.qrels, k)
