"""When does a new question mean the same as a verified one? The similarity threshold of
verified answers, chosen on held-out paraphrases of ../shared/bench/zaragoza.

Data: `benchmarks/data/zaragoza_paraphrases.tsv` holds 83 questions of zaragoza (every sixth)
reworded the way people ask again ("does ROT apply to work I do myself?" for "Can I get ROT
on my own work?"). They are split by the zaragoza split of their original: train+dev to
choose, test to report.

Per split, the originals are the verified answers. Every paraphrase is asked (it should get
its own original), and so is every other zaragoza question of that split (it should get no
verified answer: many are on the same topic — "What does a building permit cost?" next to
"How long does it take to get a building permit?" — so this is the hard case). For each
question the verified answer served is the most similar original when its cosine (the
serving model's embeddings, as `VerifiedLookup` computes it) is over the threshold.
Reported per threshold: recall (paraphrases served their own original) and the wrong-serve
rate (questions served another question's verified answer, over all questions asked). The
chosen threshold is the lowest whose wrong-serve rate on the choosing split is at most
1 %: a wrong verified answer, shown first and labelled verified, costs more than a missed
one (the usual answer still follows).

    python benchmarks/verified_answers.py [--models all-MiniLM-L6-v2,all-mpnet-base-v2]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from common import ZARAGOZA, machine, save, zaragoza

from indexing import Settings, compose
from indexing.search.tuning import default_same_question

PARAPHRASES = Path(__file__).parent / "data" / "zaragoza_paraphrases.tsv"
THRESHOLDS = [round(0.60 + 0.01 * i, 2) for i in range(39)]  # 0.60 … 0.98
MAX_WRONG = 0.01


def split_of() -> dict[str, str]:
    splits: dict[str, str] = {}
    for name in ("train", "dev", "test"):
        with (ZARAGOZA / "qrels" / f"{name}.tsv").open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                splits[row["query-id"]] = name
    return splits


def unit(vectors: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def evaluate(
    paraphrases: list[tuple[str, str]],
    others: list[str],
    originals: dict[str, str],
    embed,
) -> dict[float, dict[str, float]]:
    """Recall and wrong-serve rate per threshold for one split."""
    ids = [query_id for query_id, _ in paraphrases]
    verified = unit(embed([originals[i] for i in ids]))
    asked = unit(embed([text for _, text in paraphrases] + others))
    similarity = asked @ verified.T
    best = similarity.argmax(axis=1)
    best_similarity = similarity.max(axis=1)
    own = np.array([*range(len(ids)), *([-1] * len(others))])
    results = {}
    for threshold in THRESHOLDS:
        served = best_similarity >= threshold
        right = served & (best == own)
        wrong = served & (best != own)
        results[threshold] = {
            "recall": round(float(right[: len(ids)].mean()), 4),
            "wrong_rate": round(float(wrong.mean()), 4),
            "wrong_among_paraphrases": int(wrong[: len(ids)].sum()),
            "wrong_among_others": int(wrong[len(ids) :].sum()),
        }
    return results


def run(model: str) -> dict[str, object]:
    embedder = compose.build_embedder(Settings(embed_model=model))
    originals = {q["_id"]: q["text"] for q in zaragoza("queries")}
    splits = split_of()
    with PARAPHRASES.open() as handle:
        rows = [(r["query_id"], r["paraphrase"]) for r in csv.DictReader(handle, delimiter="\t")]
    by_split: dict[str, dict[float, dict[str, float]]] = {}
    counts = {}
    for name, members in (("choose", {"train", "dev"}), ("test", {"test"})):
        chosen = [(i, text) for i, text in rows if splits.get(i) in members]
        verified = {i for i, _ in chosen}
        others = [t for i, t in originals.items() if splits.get(i) in members and i not in verified]
        by_split[name] = evaluate(chosen, others, originals, embedder.embed)
        counts[name] = {"paraphrases": len(chosen), "other_questions": len(others)}
    fit = [t for t in THRESHOLDS if by_split["choose"][t]["wrong_rate"] <= MAX_WRONG]
    threshold = fit[0] if fit else THRESHOLDS[-1]
    default = default_same_question(model)
    return {
        "model": model,
        "questions": counts,
        "chosen_threshold": threshold,
        "at_chosen": {name: by_split[name][threshold] for name in by_split},
        "default_in_code": default,
        "at_default": {name: by_split[name].get(default) for name in by_split},
        "per_threshold": {
            name: {str(t): r for t, r in res.items()} for name, res in by_split.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    args = parser.parse_args()
    results = [run(model) for model in args.models.split(",")]
    for result in results:
        chosen = result["at_chosen"]
        print(
            f"{result['model']}: threshold {result['chosen_threshold']} — choose {chosen['choose']}"
            f", test {chosen['test']}"
        )
    save("verified_answers", {"machine": machine(), "max_wrong_rate": MAX_WRONG, "runs": results})


if __name__ == "__main__":
    main()
