"""Score a search function on a BEIR dataset: rank each judged query's documents, then the
mean metrics; each dataset and model gets a collection of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .beir import BeirDataset


def rank_documents(
    search: Callable[[str], list[str]], dataset: BeirDataset, k: int = 10
) -> dict[str, list[str]]:
    """Run each judged query; `search` returns doc ids of chunks, best first."""
    prefix = f"{dataset.name}:"
    rankings = {}
    for qid in dataset.qrels:
        seen: list[str] = []
        for doc_id in search(dataset.queries[qid]):
            corpus_id = doc_id.removeprefix(prefix)
            if corpus_id not in seen:
                seen.append(corpus_id)
            if len(seen) == k:
                break
        rankings[qid] = seen
    return rankings


def eval_collection_name(dataset: str, model: str) -> str:
    """A Weaviate collection name of its own for each dataset and embedding model."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{dataset}_{Path(model).name}").strip("_")
    return f"Eval_{slug[:1].upper()}{slug[1:]}"
