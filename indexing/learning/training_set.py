"""Training sets for the embedder, built from 👍/👎 feedback and resolved tickets.

- 👍 on an answer: each passage it cited is a positive for the question asked (the standalone
  query, which is what retrieval saw). 👎: those passages are hard negatives for it.
  Withdrawn votes never get here (`AnswerLog.pairs()` leaves them out).
- A resolved ticket gives (question, resolution) as a positive.
- The same (query, passage) twice counts once; one with both labels is dropped as conflicting.
- A user who voted 👎 on every one of at least `ALL_DOWN_MIN_QUESTIONS` questions tells
  nothing about which passages answer: their votes are left out.
- Queries are split into train and dev by a hash of the normalised query, so no query is on
  both sides. A train positive without a 👎 gets a hard negative mined with
  sentence-transformers' `mine_hard_negatives` (far enough below the positive's score to not
  be another right answer).
- Each set is saved as JSON with a version and the sha256 of its content, for audit.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import DatasetError

DEV_FRACTION = 0.2
MIN_DEV_QUERIES = 5
# A 👍 on an answer citing several passages is credited to those scoring within this cosine
# of the best-matching one: the vote most likely rewards the passage that answered.
SHARED_VOTE_MARGIN = 0.05
ALL_DOWN_MIN_QUESTIONS = 5


@dataclass(frozen=True)
class LabelledPair:
    """One judgement: `passage` (id `passage_id`) is (+1) or is not (-1) an answer to `query`."""

    query: str
    passage: str
    passage_id: str
    label: int
    origin: str  # feedback, ticket
    group: str = ""  # the answer voted on: its cited passages share one vote
    user: str = ""  # who voted (feedback only)


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str
    negative_origin: str  # feedback (a 👎), mined


@dataclass(frozen=True)
class DevQuery:
    query: str
    relevant: list[str]  # passage ids


@dataclass
class TrainingSet:
    """What one fine-tuning run learns from (train) and is judged on (dev)."""

    version: str
    content_hash: str
    created_at: str
    train: list[Triplet]
    dev: list[DevQuery]
    passages: dict[str, str]  # dev corpus: id → text (dev positives, negatives, distractors)
    stats: dict[str, int] = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.version}.json"
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> TrainingSet:
        try:
            data = json.loads(path.read_text())
            return cls(
                version=data["version"],
                content_hash=data["content_hash"],
                created_at=data["created_at"],
                train=[Triplet(**t) for t in data["train"]],
                dev=[DevQuery(**d) for d in data["dev"]],
                passages=dict(data["passages"]),
                stats=dict(data.get("stats", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DatasetError(f"{path}: not a training set ({err})") from err


def normalise(query: str) -> str:
    return " ".join(query.casefold().split())


def all_down_voters(pairs: list[LabelledPair], least: int = ALL_DOWN_MIN_QUESTIONS) -> set[str]:
    """Users who voted 👎 on every question they voted on, at least `least` questions."""
    questions: dict[str, set[str]] = defaultdict(set)
    ups: set[str] = set()
    for pair in pairs:
        if pair.origin == "feedback" and pair.user:
            questions[pair.user].add(normalise(pair.query))
            if pair.label > 0:
                ups.add(pair.user)
    return {user for user, asked in questions.items() if len(asked) >= least and user not in ups}


def clean(pairs: Iterable[LabelledPair]) -> tuple[list[LabelledPair], dict[str, int]]:
    """Drop all-👎 voters, duplicates and (query, passage) pairs labelled both ways."""
    pairs = list(pairs)
    ignored = all_down_voters(pairs)
    labels: dict[tuple[str, str], set[int]] = defaultdict(set)
    first: dict[tuple[str, str], LabelledPair] = {}
    total = len(pairs)
    pairs = [p for p in pairs if not (p.origin == "feedback" and p.user in ignored)]
    for pair in pairs:
        if not pair.query.strip() or not pair.passage.strip() or pair.label not in (1, -1):
            continue
        key = (normalise(pair.query), pair.passage_id)
        labels[key].add(pair.label)
        first.setdefault(key, pair)
    conflicting = {key for key, seen in labels.items() if len(seen) > 1}
    kept = [pair for key, pair in first.items() if key not in conflicting]
    stats = {
        "pairs_in": total,
        "all_down_voters": len(ignored),
        "all_down_pairs": total - len(pairs),
        "duplicates": len(pairs) - len(first),
        "conflicting": len(conflicting),
        "pairs_kept": len(kept),
    }
    return kept, stats


def split_by_query(
    pairs: list[LabelledPair], dev_fraction: float = DEV_FRACTION, salt: str = ""
) -> tuple[list[LabelledPair], list[LabelledPair]]:
    """Train and dev pairs; every query (normalised) lands on exactly one side. Dev gets
    `dev_fraction` of the queries with a positive, exactly (at least MIN_DEV_QUERIES when
    there are twice as many): those first in the order of a hash of their text, so which
    queries go to dev depends on nothing but the queries."""

    def bucket(query: str) -> bytes:
        return hashlib.sha256(f"{salt}{query}".encode()).digest()

    with_positive = sorted({normalise(p.query) for p in pairs if p.label > 0}, key=bucket)
    count = round(dev_fraction * len(with_positive))
    if count < MIN_DEV_QUERIES and len(with_positive) >= 2 * MIN_DEV_QUERIES:
        count = MIN_DEV_QUERIES
    dev_queries = set(with_positive[:count])
    train = [p for p in pairs if normalise(p.query) not in dev_queries]
    dev = [p for p in pairs if normalise(p.query) in dev_queries]
    return train, dev


def credit_shared_votes(
    pairs: list[LabelledPair], model: Any, margin: float = SHARED_VOTE_MARGIN
) -> tuple[list[LabelledPair], int]:
    """Narrow each 👍 shared by several cited passages to the best-matching ones."""
    groups: dict[str, list[LabelledPair]] = defaultdict(list)
    for pair in pairs:
        if pair.label > 0 and pair.group:
            groups[pair.group].append(pair)
    dropped: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        vectors = model.encode(
            [members[0].query, *(m.passage for m in members)], normalize_embeddings=True
        )
        scores = vectors[1:] @ vectors[0]
        best = float(scores.max())
        dropped.update(id(m) for m, s in zip(members, scores, strict=True) if s < best - margin)
    return [p for p in pairs if id(p) not in dropped], len(dropped)


def mine_negatives(
    model: Any, positives: list[tuple[str, str]], corpus: list[str], batch_size: int = 32
) -> dict[tuple[str, str], str]:
    """A hard negative for each (query, positive), where one exists, from `corpus`."""
    if not positives or not corpus:
        return {}
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    dataset = Dataset.from_dict(
        {"anchor": [q for q, _ in positives], "positive": [p for _, p in positives]}
    )
    mined = mine_hard_negatives(
        dataset,
        model,
        corpus=corpus,
        range_max=50,
        relative_margin=0.05,  # a negative must score ≥ 5 % below the positive
        num_negatives=1,
        sampling_strategy="top",
        output_format="triplet",
        batch_size=batch_size,
        verbose=False,
    )
    return {(row["anchor"], row["positive"]): row["negative"] for row in mined}


def build(
    pairs: Iterable[LabelledPair],
    mining_model: Any,
    corpus: dict[str, str],
    distractors: int = 2000,
    dev_fraction: float = DEV_FRACTION,
    now: datetime | None = None,
) -> TrainingSet:
    """A versioned training set. `corpus` (id → text) supplies mined negatives and dev
    distractors; `mining_model` is the embedder in production (a SentenceTransformer)."""
    kept, stats = clean(pairs)
    kept, stats["shared_votes_narrowed"] = credit_shared_votes(kept, mining_model)
    train_pairs, dev_pairs = split_by_query(kept, dev_fraction)

    by_query: dict[str, dict[str, list[LabelledPair]]] = defaultdict(lambda: defaultdict(list))
    for pair in train_pairs:
        by_query[normalise(pair.query)]["pos" if pair.label > 0 else "neg"].append(pair)
    positives_of = {q: {p.passage for p in labelled["pos"]} for q, labelled in by_query.items()}
    needs_mining = [
        (pos.query, pos.passage)
        for labelled in by_query.values()
        if not labelled["neg"]
        for pos in labelled["pos"]
    ]
    mined = mine_negatives(mining_model, needs_mining, list(dict.fromkeys(corpus.values())))
    triplets: list[Triplet] = []
    for query, labelled in by_query.items():
        for pos in labelled["pos"]:
            if labelled["neg"]:
                triplets.extend(
                    Triplet(pos.query, pos.passage, neg.passage, "feedback")
                    for neg in labelled["neg"]
                )
            else:
                negative = mined.get((pos.query, pos.passage))
                if negative is not None and negative not in positives_of[query]:
                    triplets.append(Triplet(pos.query, pos.passage, negative, "mined"))

    dev_relevant: dict[str, list[str]] = defaultdict(list)
    dev_text: dict[str, str] = {}
    passages: dict[str, str] = {}
    for pair in dev_pairs:
        passages[pair.passage_id] = pair.passage
        key = normalise(pair.query)
        dev_text.setdefault(key, pair.query)
        if pair.label > 0:
            dev_relevant[key].append(pair.passage_id)
    dev = [DevQuery(dev_text[q], sorted(ids)) for q, ids in sorted(dev_relevant.items())]
    others = sorted(set(corpus) - set(passages))
    for passage_id in random.Random(13).sample(others, min(distractors, len(others))):
        passages[passage_id] = corpus[passage_id]

    stats.update(
        train_queries=len(by_query),
        train_triplets=len(triplets),
        mined_negatives=sum(t.negative_origin == "mined" for t in triplets),
        feedback_negatives=sum(t.negative_origin == "feedback" for t in triplets),
        dev_queries=len(dev),
        dev_passages=len(passages),
        ticket_pairs=sum(p.origin == "ticket" for p in kept),
    )
    content = json.dumps(
        {
            "train": [asdict(t) for t in triplets],
            "dev": [asdict(d) for d in dev],
            "passages": passages,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    created = now or datetime.now(UTC)
    return TrainingSet(
        version=f"ts-{created:%Y%m%dT%H%M%S}-{digest[:8]}",
        content_hash=digest,
        created_at=created.isoformat(),
        train=triplets,
        dev=dev,
        passages=passages,
        stats=stats,
    )
