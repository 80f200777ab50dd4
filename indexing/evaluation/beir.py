"""A retrieval dataset in BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llama_index.core import Document

from ..errors import DatasetError
from ..ingest.documents import document_id


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
