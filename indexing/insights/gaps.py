"""Knowledge gaps: what people ask that the documents cannot answer.

An answer is *flagged* when it was not found, found with low confidence, voted 👎 or
escalated to people. Every
question of the window — flagged or not — is clustered by meaning (embeddings of the serving
model; scikit-learn's agglomerative clustering, average link, cut at a cosine distance, so the
number of topics is not fixed in advance). A topic is a gap when at least `min_size` of its
questions were flagged and they are at least `min_share` of it: a topic the documents cover
has flagged questions too (a bad vote, a retrieval miss), but among many answered ones.

Each gap shows its size (flagged questions) and how often the topic was asked, its trend (the
window's later half against its earlier half), three example questions (nearest its centre),
why they were flagged, and the closest existing sources with their owners (a Confluence page's
author and space, a ticket source) — whom to ask to write the missing page.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from ..answers.log import AskedAnswer
from ..store.chunk import Chunk

DISTANCE = 0.5  # cosine distance within which questions count as one topic (average link)
MIN_SIZE = 2  # flagged questions a topic needs to be a gap
MIN_SHARE = 0.5  # …and the share of the topic's questions they must be at least
LOW_CONFIDENCE_MARGIN = 0.2  # found answers this close above the not-found cut are flagged
MAX_QUESTIONS = 6000  # the most recent questions clustered (the distances take n² memory)
EXAMPLES = 3
TOP_SOURCES = 3


@dataclass(frozen=True)
class GapSource:
    title: str
    url: str
    doc_id: str
    owner: str  # "Ana Lopez, space Engineering", "ticket queue jira", "" when unknown
    questions: int  # how many of the gap's questions listed it among their closest


@dataclass(frozen=True)
class Gap:
    size: int  # flagged questions
    asked: int  # questions on the topic, flagged or not
    recent: int  # questions in the later half of the window
    earlier: int
    trend: str  # new, rising, steady, falling
    examples: list[str]
    reasons: dict[str, int]  # not_found, low_confidence, voted_down, escalated → questions
    sources: list[GapSource]
    first_seen: datetime
    last_seen: datetime
    answer_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GapReport:
    since: datetime
    until: datetime
    embedder: str
    asked: int  # questions in the window (the most recent MAX_QUESTIONS)
    flagged: int  # of them flagged
    unclustered: int  # flagged questions in no gap (a rare topic, or one mostly answered)
    gaps: list[Gap]

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        return json.loads(json.dumps(data, default=_iso))

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        """One row per gap (examples and sources joined with " | ")."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "size",
                "asked",
                "trend",
                "recent",
                "earlier",
                "reasons",
                "examples",
                "sources",
                "owners",
            ]
        )
        for gap in self.gaps:
            writer.writerow(
                [
                    gap.size,
                    gap.asked,
                    gap.trend,
                    gap.recent,
                    gap.earlier,
                    " ".join(f"{k}={v}" for k, v in sorted(gap.reasons.items())),
                    " | ".join(gap.examples),
                    " | ".join(s.title for s in gap.sources),
                    " | ".join(s.owner for s in gap.sources),
                ]
            )
        return out.getvalue()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def reasons_of(answer: AskedAnswer, low_confidence: float) -> list[str]:
    found: list[str] = []
    if not answer.found:
        found.append("not_found")
    elif answer.confidence is not None and answer.confidence < low_confidence:
        found.append("low_confidence")
    if answer.voted_down:
        found.append("voted_down")
    if answer.escalated:
        found.append("escalated")
    return found


def owner_of(chunk: Chunk) -> str:
    """Who to ask about a source: a page's author and space, else the source that holds it."""
    try:
        meta = json.loads(chunk.meta) if chunk.meta else {}
    except ValueError:
        meta = {}
    if meta.get("space"):
        space = f"space {meta.get('space_name') or meta['space']}"
        return f"{meta['author']}, {space}" if meta.get("author") else space
    if meta.get("format") == "ticket":
        return f"ticket queue {chunk.source}"
    return f"source {chunk.source}" if chunk.source else ""


def cluster_labels(vectors: np.ndarray, distance: float = DISTANCE) -> np.ndarray:
    """A cluster number per row of unit `vectors`: average-linkage agglomerative clustering
    with cosine distance, cut at `distance`."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    )
    return np.asarray(model.fit_predict(vectors))


def find_gaps(
    answers: Sequence[AskedAnswer],
    vectors: np.ndarray,
    owners: Mapping[str, str],
    low_confidence: float,
    since: datetime,
    until: datetime,
    embedder: str = "",
    distance: float = DISTANCE,
    min_size: int = MIN_SIZE,
    min_share: float = MIN_SHARE,
) -> GapReport:
    """The gaps among `answers` (row i of `vectors` embeds answer i's question); `owners` maps
    chunk ids of the closest sources to owners. Largest gaps first."""
    flags = [bool(reasons_of(a, low_confidence)) for a in answers]
    labels = cluster_labels(vectors, distance).tolist()
    middle = since + (until - since) / 2
    gaps: list[Gap] = []
    for label in sorted(set(labels)):
        topic = [i for i, value in enumerate(labels) if value == label]
        members = [i for i in topic if flags[i]]
        if len(members) < min_size or len(members) < min_share * len(topic):
            continue
        flagged = [answers[i] for i in members]
        centre = vectors[members].mean(axis=0)
        examples: list[str] = []
        for i in sorted(members, key=lambda i: -float(vectors[i] @ centre)):
            if answers[i].question not in examples:
                examples.append(answers[i].question)
            if len(examples) == EXAMPLES:
                break
        recent = sum(1 for a in flagged if aware(a.at) >= middle)
        gaps.append(
            Gap(
                size=len(flagged),
                asked=len(topic),
                recent=recent,
                earlier=len(flagged) - recent,
                trend=_trend(recent, len(flagged) - recent),
                examples=examples,
                reasons=dict(Counter(r for a in flagged for r in reasons_of(a, low_confidence))),
                sources=_sources(flagged, owners),
                first_seen=min(aware(a.at) for a in flagged),
                last_seen=max(aware(a.at) for a in flagged),
                answer_ids=[a.answer_id for a in flagged],
            )
        )
    gaps.sort(key=lambda g: (-g.size, -g.recent, g.examples[0]))
    in_gaps = sum(g.size for g in gaps)
    return GapReport(since, until, embedder, len(answers), sum(flags), sum(flags) - in_gaps, gaps)


def _sources(answers: Sequence[AskedAnswer], owners: Mapping[str, str]) -> list[GapSource]:
    """The documents most often listed closest, once per question."""
    counts: Counter[str] = Counter()
    first: dict[str, tuple[str, str, str]] = {}
    for answer in answers:
        docs = set()
        for source in answer.sources:
            if source.doc_id in docs:
                continue
            docs.add(source.doc_id)
            counts[source.doc_id] += 1
            first.setdefault(source.doc_id, (source.title, source.url, source.chunk_id))
    return [
        GapSource(first[d][0], first[d][1], d, owners.get(first[d][2], ""), n)
        for d, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_SOURCES]
    ]


def _trend(recent: int, earlier: int) -> str:
    if earlier == 0:
        return "new"
    if recent >= 1.5 * earlier:
        return "rising"
    if recent * 1.5 <= earlier:
        return "falling"
    return "steady"


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
