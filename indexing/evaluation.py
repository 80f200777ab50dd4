"""Retrieval quality on a BEIR-layout dataset: nDCG@k, Recall@k and MRR@k."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from llama_index.core import Document

from .errors import DatasetError
from .reading import document_id


@dataclass(frozen=True)
class BeirDataset:
    """A corpus, its queries and the relevance judgements of one split."""

    name: str
    corpus: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.exists():
        raise DatasetError(f"{path} is missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels/)")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{number}: not valid JSON ({err.msg})") from err
            if "_id" not in record:
                raise DatasetError(f"{path}:{number}: record has no '_id'")
            yield number, record


def load_beir(folder: Path, split: str) -> BeirDataset:
    name = folder.resolve().name
    corpus = []
    for number, record in _jsonl(folder / "corpus.jsonl"):
        text = str(record.get("text") or "").strip()
        if not text:
            raise DatasetError(f"{folder / 'corpus.jsonl'}:{number}: '{record['_id']}' has no text")
        meta = record.get("metadata") or {}
        corpus.append(
            Document(
                id_=document_id(name, str(record["_id"])),
                text=text,
                metadata={
                    "title": str(record.get("title") or ""),
                    "url": str(meta.get("url", "")),
                    "source": name,
                    "path": str(record["_id"]),
                    "format": "text",
                },
            )
        )
    queries = {str(r["_id"]): str(r.get("text", "")) for _, r in _jsonl(folder / "queries.jsonl")}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        raise DatasetError(f"{qrels_path} is missing (split '{split}')")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if number == 1 and row and row[0] == "query-id":
                continue
            if len(row) < 3:
                raise DatasetError(f"{qrels_path}:{number}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise DatasetError(
            f"{qrels_path}: {len(missing)} query ids not in queries.jsonl, e.g. {missing[0]}"
        )
    return BeirDataset(name, corpus, queries, qrels)


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(
    rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 10
) -> dict[str, float]:
    """Mean metrics over the judged queries (a query with no ranking scores zero)."""
    n = len(qrels)
    totals = {f"ndcg@{k}": 0.0, f"recall@{k}": 0.0, f"mrr@{k}": 0.0}
    for qid, relevant in qrels.items():
        ranked = rankings.get(qid, [])
        totals[f"ndcg@{k}"] += ndcg_at_k(ranked, relevant, k)
        totals[f"recall@{k}"] += recall_at_k(ranked, relevant, k)
        totals[f"mrr@{k}"] += mrr_at_k(ranked, relevant, k)
    result = {name: round(value / n, 4) if n else 0.0 for name, value in totals.items()}
    result["n_queries"] = n
    return result


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
