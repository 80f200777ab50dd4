"""Score a search function on a BEIR dataset: rank each judged query's documents, then the
mean metrics; each dataset and model gets a collection of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .beir import BeirDataset


def corpus_ids(doc_ids: list[str], dataset: str, k: int = 10) -> list[str]:
    """The first `k` distinct corpus ids among the doc ids of ranked chunks."""
    prefix = f"{dataset}:"
    seen: list[str] = []
    for doc_id in doc_ids:
        corpus_id = doc_id.removeprefix(prefix)
        if corpus_id not in seen:
            seen.append(corpus_id)
        if len(seen) == k:
            break
    return seen


def rank_documents(
    search: Callable[[str], list[str]], dataset: BeirDataset, k: int = 10
) -> dict[str, list[str]]:
    """Run each judged query; `search` returns doc ids of chunks, best first."""
    return {q: corpus_ids(search(dataset.queries[q]), dataset.name, k) for q in dataset.qrels}


def eval_collection_name(dataset: str, model: str) -> str:
    """A Weaviate collection name of its own for each dataset and embedding model."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{dataset}_{Path(model).name}").strip("_")
    return f"Eval_{slug[:1].upper()}{slug[1:]}"
