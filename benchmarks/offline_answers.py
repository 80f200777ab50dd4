"""Which offline answer mode is better: extractive quotes or SmolLM2-135M via llama.cpp?

On zaragoza test questions, both modes get the same retrieved passages (hybrid, mpnet) and
are scored on: token F1 against the official answer, faithfulness (share of answer tokens
found in the given passages: a hallucination proxy), whether a cited passage is relevant by
the qrels, and latency.

    knowhere services up
    python benchmarks/offline_answers.py [--n 40] [--model all-mpnet-base-v2]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

from common import ZARAGOZA, machine, save

from indexing import Settings, compose
from indexing.answers.extractive import ExtractiveGenerator
from indexing.answers.generator import answer
from indexing.answers.llamacpp import LlamaCppGenerator, bundled_gguf
from indexing.evaluation.beir import load_beir
from indexing.evaluation.run import eval_collection_name

TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(re.sub(r"\[\d+\]", " ", text.lower()))


def f1(prediction: str, gold: str) -> float:
    pred, ref = tokens(prediction), tokens(gold)
    common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def faithfulness(prediction: str, passages: list[str]) -> float:
    pred = tokens(prediction)
    context = set(tokens(" ".join(passages)))
    return sum(t in context for t in pred) / len(pred) if pred else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--model", default="all-mpnet-base-v2")
    parser.add_argument("--modes", default="extractive,llamacpp")
    args = parser.parse_args()
    settings = Settings()
    dataset = load_beir(ZARAGOZA, "test")
    gold = {d.id_.split(":", 1)[1]: d.text for d in dataset.corpus}
    embedder = compose.build_embedder(settings, args.model)
    modes = args.modes.split(",")
    generators = [ExtractiveGenerator(embedder)] if "extractive" in modes else []
    if "llamacpp" in modes:
        generators.append(LlamaCppGenerator(bundled_gguf()))
    collection = eval_collection_name(dataset.name, args.model)
    questions = list(dataset.qrels.items())[: args.n]
    rows: dict[str, dict[str, list[float]]] = {
        g.name: {"f1": [], "faithful": [], "cites_relevant": [], "seconds": []} for g in generators
    }
    samples = []
    with compose.connect_weaviate(settings) as client:
        retriever = compose.build_retriever(client, settings, embedder, collection)
        for qid, relevant in questions:
            question = dataset.queries[qid]
            hits = retriever.search(question, settings.top_k).hits
            reference = " ".join(gold[d] for d in relevant)
            for generator in generators:
                started = time.perf_counter()
                result = answer(question, hits, generator)
                seconds = time.perf_counter() - started
                cited = {c.doc_id.split(":", 1)[1] for c in result.citations}
                row = rows[generator.name]
                row["f1"].append(f1(result.text, reference))
                row["faithful"].append(faithfulness(result.text, [h.text for h in hits]))
                row["cites_relevant"].append(float(bool(cited & set(relevant))))
                row["seconds"].append(seconds)
                if len(samples) < 6:
                    samples.append({"mode": generator.name, "q": question, "a": result.text})
    summary = {}
    for name, row in rows.items():
        times = sorted(row["seconds"])
        summary[name] = {
            "token_f1_vs_official_answer": round(statistics.mean(row["f1"]), 3),
            "faithfulness": round(statistics.mean(row["faithful"]), 3),
            "cites_relevant_passage": round(statistics.mean(row["cites_relevant"]), 3),
            "latency_p50_s": round(times[len(times) // 2], 2),
            "latency_p95_s": round(times[int(len(times) * 0.95) - 1], 2),
        }
    save(
        "offline_answers",
        {"questions": len(questions), "machine": machine(), "results": summary, "samples": samples},
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
