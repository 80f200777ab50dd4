"""The feedback loop on ../shared/bench/zaragoza: does learning from 👍/👎 improve retrieval?

For each model, in a fresh index and a fresh answer log:
1. index the corpus; score `test` (dense and hybrid, through Weaviate) — before;
2. simulated users ask every `train` question through the answer service; the answer is
   recorded like a bot's, and the user votes 👍 on each cited source that is relevant by the
   qrels, 👎 on the others (`bot.feedback.record_source_vote`, the path of the Slack bot's
   per-source votes);
3. the loop runs as in production (`jobs.train`): training set, fine-tuning, the gate
   (dev split of the feedback + general-domain guard set), re-embedding and alias switch;
4. score `test` again — after. With --wrong, users vote the opposite way: the gate must refuse.

    knowhere services up
    python benchmarks/feedback_loop.py [--models all-MiniLM-L6-v2,all-mpnet-base-v2] [--wrong]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from common import ZARAGOZA, machine, save

from bot.feedback import record_source_vote
from indexing import PUBLIC_ONLY, Settings, compose, jobs
from indexing.evaluation.beir import load_beir
from indexing.evaluation.metrics import score_run
from indexing.evaluation.run import rank_documents
from indexing.ingest.chunking import embedding_text
from indexing.learning.training_set import TrainingSet

TARGETS = {"all-MiniLM-L6-v2": (0.04, 90.0), "all-mpnet-base-v2": (0.05, 360.0)}


def test_scores(client, settings: Settings, dataset) -> dict[str, dict[str, float]]:
    embedder = compose.build_embedder(settings)
    retriever = compose.build_retriever(client, settings, embedder)
    scores = {}
    for mode in ("vector", "hybrid"):

        def search(query: str, mode=mode) -> list[str]:
            return [h.doc_id for h in retriever.search(query, top_k=30, mode=mode).hits]

        metrics = score_run(rank_documents(search, dataset, 10), dataset.qrels, 10)
        scores[mode] = {m: metrics[m] for m in ("ndcg@10", "mrr@10", "recall@10")}
    scores["embedder"] = retriever.current()[1].version  # type: ignore[assignment]
    return scores


def simulate_users(client, settings: Settings, wrong: bool) -> dict[str, object]:
    train = load_beir(ZARAGOZA, "train")
    service = compose.build_answer_service(client, settings)
    log = compose.open_answer_log(settings)
    prefix = f"{train.name}:"
    votes = {"+1": 0, "-1": 0}
    cited = 0
    started = time.perf_counter()
    for n, (qid, relevant) in enumerate(sorted(train.qrels.items())):
        answer = service.ask(train.queries[qid], PUBLIC_ONLY)
        answer_id = log.record(answer, "benchmark", "simulated", f"user{n}@example.com")
        for citation in answer.citations:
            helpful = relevant.get(citation.doc_id.removeprefix(prefix), 0) > 0
            label = -1 if helpful == wrong else 1
            record_source_vote(log, answer_id, f"user{n}@example.com", citation.number, label)
            votes["+1" if label > 0 else "-1"] += 1
            cited += 1
    pairs = log.pairs()
    qid_of = {text: qid for qid, text in train.queries.items()}
    right = sum(
        (p.label > 0)
        == (train.qrels.get(qid_of.get(p.query, ""), {}).get(p.doc_id.removeprefix(prefix), 0) > 0)
        for p in pairs
    )
    return {
        "questions": len(train.qrels),
        "votes": votes,
        "citations_per_answer": round(cited / max(1, len(train.qrels)), 2),
        "pairs": len(pairs),
        "pairs_labelled_as_qrels_say": round(right / max(1, len(pairs)), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def training_labels(settings: Settings, version: object) -> dict[str, object]:
    """How many train triplets have a positive that the qrels call relevant (and a negative
    they do not): the quality of what the feedback taught."""
    if not version:
        return {}
    data = TrainingSet.load(settings.data_dir / "training-sets" / f"{version}.json")
    train = load_beir(ZARAGOZA, "train")
    doc_of = {
        embedding_text(d.metadata["title"], "", d.text): d.id_.split(":", 1)[1]
        for d in train.corpus
    }
    qid_of = {text: qid for qid, text in train.queries.items()}
    right_pos = right_neg = 0
    for t in data.train:
        relevant = train.qrels.get(qid_of.get(t.anchor, ""), {})
        right_pos += relevant.get(doc_of.get(t.positive, ""), 0) > 0
        right_neg += relevant.get(doc_of.get(t.negative, ""), 0) == 0
    n = max(1, len(data.train))
    return {
        "triplets": len(data.train),
        "positive_relevant": round(right_pos / n, 3),
        "negative_irrelevant": round(right_neg / n, 3),
    }


def run(model: str, wrong: bool, workdir: Path) -> dict[str, object]:
    settings = Settings(
        collection=f"Loop_{uuid.uuid4().hex[:8]}",
        embed_model=model,
        database_url=f"sqlite:///{workdir / (model + '.db')}",
        answer_mode="extractive",
        train_min_pairs=20,
    )
    test = load_beir(ZARAGOZA, "test")
    corpus = load_beir(ZARAGOZA, "train").corpus
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings)
        indexer = compose.build_indexer(client, settings, "zaragoza", embedder)
        indexer.index(corpus, prune=True)
        before = test_scores(client, settings, test)
        users = simulate_users(client, settings, wrong)
        started = time.perf_counter()
        outcome = jobs.train(settings, promote=True)
        loop_seconds = time.perf_counter() - started
        after = test_scores(client, settings, test)
        labels = training_labels(settings, outcome.training_set.get("version"))
        client.alias.delete(alias_name=settings.collection)
        for name in client.collections.list_all(simple=True):
            if name.startswith(f"{settings.collection}_"):
                client.collections.delete(name)
    gain = after["vector"]["ndcg@10"] - before["vector"]["ndcg@10"]
    hybrid_gain = after["hybrid"]["ndcg@10"] - before["hybrid"]["ndcg@10"]
    verdict = outcome.verdict
    guard_loss = (
        verdict["current_guard"]["ndcg"] - verdict["candidate_guard"]["ndcg"] if verdict else None
    )
    per_1k = outcome.run.get("seconds_per_1k_triplets_per_epoch")
    target_gain, target_seconds = TARGETS.get(model, (0.0, float("inf")))
    return {
        "model": model,
        "wrong_feedback": wrong,
        "simulated_users": users,
        "outcome": outcome.status,
        "reason": outcome.reason,
        "training_set": outcome.training_set,
        "training_labels_vs_qrels": labels,
        "training": outcome.run,
        "gate": verdict,
        "switch": outcome.switch,
        "loop_seconds": round(loop_seconds, 1),
        "test_before": before,
        "test_after": after,
        "test_ndcg@10_gain": {"vector": round(gain, 4), "hybrid": round(hybrid_gain, 4)},
        "guard_ndcg@10_loss": round(guard_loss, 4) if guard_loss is not None else None,
        "targets": {
            "ndcg_gain": target_gain,
            "guard_loss_max": 0.01,
            "train_seconds_per_1k": target_seconds,
            "met": (
                None
                if wrong
                else bool(
                    gain >= target_gain
                    and guard_loss is not None
                    and guard_loss <= 0.01
                    and per_1k is not None
                    and float(per_1k) <= target_seconds  # type: ignore[arg-type]
                )
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    parser.add_argument("--wrong", action="store_true", help="simulate wrong feedback")
    args = parser.parse_args()
    report: dict[str, object] = {"dataset": str(ZARAGOZA), "machine": machine(), "runs": []}
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models.split(","):
            result = run(model, args.wrong, Path(workdir))
            report["runs"].append(result)  # type: ignore[attr-defined]
            print(result["model"], result["outcome"], result["test_ndcg@10_gain"], flush=True)
    name = "feedback_loop_wrong" if args.wrong else "feedback_loop"
    save(f"{name}_{args.models.replace(',', '+')}", report)


if __name__ == "__main__":
    main()
