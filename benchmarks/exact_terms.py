"""Pasted identifiers: does a query holding a term only one passage holds find it at rank 1?

For each manual benchmark (benchmarks/manuals/build.py), every identifier-like token
(digits, inner separators or capitals: `core.editor`, `GIT_DIR`, `PyObject_Call`) found
verbatim in exactly one passage becomes up to three queries: the term alone, "what is TERM?"
and "I get TERM, what now?". A deterministic sample of 100 terms per benchmark is run through
Knowhere's retriever (exact-term lookup included) and, as the baseline, through the same
collection's plain hybrid search at the same α (what the retriever did before).

    knowhere services up
    python benchmarks/exact_terms.py [--model all-mpnet-base-v2] [--terms 100]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from pathlib import Path

from common import machine, save

sys.path.insert(0, str(Path(__file__).resolve().parent / "manuals"))

from build import BUILDERS  # noqa: E402

from indexing import Settings, compose  # noqa: E402
from indexing.evaluation.beir import load_beir  # noqa: E402
from indexing.evaluation.run import eval_collection_name  # noqa: E402
from indexing.jobs import evaluate_dataset  # noqa: E402
from indexing.search.exact_terms import IDENTIFIER, TOKEN  # noqa: E402

TEMPLATES = ("{term}", "what is {term}?", "I get {term}, what now?")


def unique_terms(passages: dict[str, str], count: int) -> dict[str, str]:
    """term -> the one passage holding it verbatim (case-insensitive), a sample of `count`."""
    holders: dict[str, set[str]] = defaultdict(set)
    for passage_id, text in passages.items():
        for token in TOKEN.findall(text):
            if len(token) >= 5 and IDENTIFIER.fullmatch(token):
                holders[token.lower()].add(passage_id)
    lowered = {p: t.lower() for p, t in passages.items()}
    unique = {}
    for term, found in holders.items():
        if len(found) == 1:
            (passage_id,) = found
            if sum(term in text for text in lowered.values()) == 1:  # not inside other words
                unique[term] = passage_id
    ranked = sorted(unique, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return {t: unique[t] for t in ranked[:count]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--terms", type=int, default=100)
    args = parser.parse_args()
    settings = Settings()
    report: dict[str, object] = {"machine": machine(), "model": args.model, "datasets": {}}
    for name in BUILDERS:
        folder = settings.home / "bench" / name
        evaluate_dataset(settings, folder, "dev", args.model, "hybrid")  # indexes the corpus
        dataset = load_beir(folder, "dev")
        passages = {
            str(d.metadata["path"]): f"{d.metadata['title']}\n{d.text}" for d in dataset.corpus
        }
        terms = unique_terms(passages, args.terms)
        collection = eval_collection_name(name, args.model)
        first = {"knowhere": 0, "plain hybrid": 0}
        queries = 0
        with compose.connect_weaviate(settings) as client:
            embedder = compose.build_embedder(settings, args.model)
            retriever = compose.build_retriever(client, settings, embedder, collection)
            alpha = retriever.alpha_for(retriever.store)
            for term, passage_id in terms.items():
                wanted = f"{name}:{passage_id}"
                for template in TEMPLATES:
                    query = template.format(term=term)
                    queries += 1
                    hits = retriever.search(query, top_k=5).hits
                    vector = embedder.embed_query(query).vector
                    plain = retriever.store.query(query, vector, 5, alpha=alpha)
                    first["knowhere"] += bool(hits) and hits[0].doc_id == wanted
                    first["plain hybrid"] += bool(plain) and plain[0].doc_id == wanted
        report["datasets"][name] = {  # type: ignore[index]
            "terms": len(terms),
            "queries": queries,
            "alpha": alpha,
            "rank1_rate": {k: round(v / queries, 4) for k, v in first.items()},
            "examples": list(terms)[:8],
        }
    save("exact_terms", report)


if __name__ == "__main__":
    main()
