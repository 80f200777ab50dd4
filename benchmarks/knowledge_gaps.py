"""The knowledge-gap report on ../shared/bench/zaragoza: does it find what the index lacks?

Per seed: whole categories of the corpus (zaragoza's titles: 39 topics such as `bygglov`)
are hidden until at least 20 % of the passages are gone; the rest is indexed. Every question
(all 497) is asked through the answer service and recorded like a bot's answer; a simulated
quarter of the askers vote on the answer (👎 when no cited source is relevant by the qrels,
else 👍), 15 % of those votes the wrong way round. Then `jobs.knowledge_gaps` (what
`knowhere gaps` prints) runs at several clustering distances. A gap *finds* a hidden topic
when most of its questions belong to that topic; a gap whose majority topic is indexed is
*not a gap*. Reported: recall of hidden topics (target ≥ 0.80) and the share of gaps that are
not gaps (target ≤ 0.20), per setting (low-confidence margin, distance, share) and on
average over the seeds.

    knowhere services up
    python benchmarks/knowledge_gaps.py [--models all-MiniLM-L6-v2] [--seeds 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

from common import ZARAGOZA, machine, save

from indexing import PUBLIC_ONLY, Settings, compose, jobs
from indexing.evaluation.beir import load_beir

HIDDEN_SHARE = 0.20
VOTE_SHARE, WRONG_SHARE = 0.25, 0.15
DISTANCES = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
SHARES = (0.5, 0.7)
LOW_MARGINS = (0.1, 0.2)  # low confidence: the not-found threshold + this
TARGETS = {"recall": 0.80, "not_gaps_max": 0.20}


def all_questions() -> tuple[dict[str, str], dict[str, str]]:
    """Every question's text and the passage it is answered by."""
    texts, passage_of = {}, {}
    for split in ("train", "dev", "test"):
        data = load_beir(ZARAGOZA, split)
        for qid, relevant in data.qrels.items():
            texts[qid] = data.queries[qid]
            passage_of[qid] = max(relevant, key=lambda p: relevant[p])
    return texts, passage_of


def hidden_topics(topic_of: dict[str, str], rng: random.Random) -> set[str]:
    sizes = Counter(topic_of.values())
    topics = sorted(sizes)
    rng.shuffle(topics)
    hidden: set[str] = set()
    while sum(sizes[t] for t in hidden) < HIDDEN_SHARE * len(topic_of):
        hidden.add(topics.pop())
    return hidden


def run(model: str, seed: int, workdir: Path) -> dict[str, object]:
    rng = random.Random(seed)
    corpus = load_beir(ZARAGOZA, "test").corpus
    topic_of = {d.metadata["path"]: d.metadata["title"] for d in corpus}
    hidden = hidden_topics(topic_of, rng)
    settings = Settings(
        collection=f"Gaps_{uuid.uuid4().hex[:8]}",
        embed_model=model,
        database_url=f"sqlite:///{workdir / f'{model}-{seed}.db'}",
        answer_mode="extractive",
    )
    texts, passage_of = all_questions()
    topic_of_question = {qid: topic_of[passage_of[qid]] for qid in texts}
    qid_of: dict[str, str] = {}
    votes: Counter[str] = Counter()
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings)
        indexer = compose.build_indexer(client, settings, "zaragoza", embedder)
        indexer.index([d for d in corpus if d.metadata["title"] not in hidden], prune=True)
        service = compose.build_answer_service(client, settings)
        answer_log = compose.open_answer_log(settings)
        started = time.perf_counter()
        for n, qid in enumerate(sorted(texts)):
            answer = service.ask(texts[qid], PUBLIC_ONLY)
            answer_id = answer_log.record(answer, "benchmark", "simulated", f"user{n}")
            qid_of[answer_id] = qid
            if rng.random() < VOTE_SHARE:
                cited = {c.doc_id.removeprefix("zaragoza:") for c in answer.citations}
                helpful = answer.found and passage_of[qid] in cited
                if rng.random() < WRONG_SHARE:
                    helpful = not helpful
                label = 1 if helpful else -1
                answer_log.add_feedback(answer_id, f"user{n}", "reaction", "vote", label)
                votes["up" if helpful else "down"] += 1
        ask_seconds = time.perf_counter() - started
        answer_log.close()
        per_distance = {}
        floor = compose.min_relevance(settings, embedder)
        for margin in LOW_MARGINS:
            low = settings.model_copy(update={"gaps_low_confidence": floor + margin})
            for distance in DISTANCES:
                for share in SHARES:
                    report = jobs.knowledge_gaps(
                        low, timedelta(days=1), distance=distance, min_share=share
                    )
                    key = f"low+{margin} d={distance} share={share}"
                    per_distance[key] = judge(report, qid_of, topic_of_question, hidden)
        client.alias.delete(alias_name=settings.collection)
        for name in client.collections.list_all(simple=True):
            if name.startswith(f"{settings.collection}_"):
                client.collections.delete(name)
    hidden_questions = sum(1 for q in texts if topic_of_question[q] in hidden)
    return {
        "model": model,
        "seed": seed,
        "hidden_topics": sorted(hidden),
        "hidden_passages": sum(1 for t in topic_of.values() if t in hidden),
        "passages": len(topic_of),
        "questions": len(texts),
        "questions_on_hidden_topics": hidden_questions,
        "votes": dict(votes),
        "ask_seconds": round(ask_seconds, 1),
        "by_distance": per_distance,
    }


def judge(report, qid_of: dict[str, str], topic_of_question: dict[str, str], hidden) -> dict:
    """Which hidden topics the gaps found, and how many gaps are about indexed topics.
    `qid_of` maps answer ids to question ids."""
    found: set[str] = set()
    not_gaps = 0
    for gap in report.gaps:
        topics = Counter(topic_of_question[qid_of[a]] for a in gap.answer_ids)
        topic, count = topics.most_common(1)[0]
        if topic in hidden and count * 2 > gap.size:
            found.add(topic)
        elif topic not in hidden:
            not_gaps += 1
    in_gaps = [a for gap in report.gaps for a in gap.answer_ids]
    gaps = len(report.gaps)
    return {
        "flagged": report.flagged,
        "in_gaps": len(in_gaps),
        "in_gaps_on_hidden_topics": sum(topic_of_question[qid_of[a]] in hidden for a in in_gaps),
        "gaps": gaps,
        "hidden_topics_found": len(found),
        "recall": round(len(found) / len(hidden), 3),
        "not_gaps": not_gaps,
        "not_gap_share": round(not_gaps / gaps, 3) if gaps else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="all-MiniLM-L6-v2")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, object] = {"dataset": str(ZARAGOZA), "machine": machine(), "runs": []}
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models.split(","):
            for seed in range(args.seeds):
                one = run(model, seed, Path(workdir))
                result["runs"].append(one)  # type: ignore[attr-defined]
                print(model, seed, "done", flush=True)
    summary = {}
    for model in args.models.split(","):
        runs = [r for r in result["runs"] if r["model"] == model]  # type: ignore[attr-defined]
        summary[model] = {
            setting: {
                key: round(sum(r["by_distance"][setting][key] for r in runs) / len(runs), 3)
                for key in ("recall", "not_gap_share", "gaps", "flagged")
            }
            for setting in runs[0]["by_distance"]
        }
    result["mean_over_seeds"] = summary
    result["targets"] = TARGETS
    save(f"knowledge_gaps_{args.models.replace(',', '+')}", result)


if __name__ == "__main__":
    main()
