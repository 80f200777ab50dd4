"""The evaluation gate: a fine-tuned embedder replaces the current one only if it is better.

Both models rank the held-out dev passages for the dev questions (dense retrieval over the
dev corpus) and the general-domain guard set (to catch forgetting).

The criterion is a paired, rank-based comparison per dev question: the candidate *wins* a
question when it ranks the question's first relevant passage higher than the serving model
does, and *loses* it when it ranks it lower. Feedback only confirms passages the serving model
already retrieved, so both often rank it first; then the question goes to the model holding
it further ahead of the next passage, measured in that model's own spread of scores
(standard deviations of the other passages' cosines), which compares two models fairly
however differently their cosines are scaled. The *preference* is wins minus losses over
the questions, in [-1, 1].

A candidate is promoted only when
- the dev split has at least `min_questions` distinct questions,
- the lower bound of the preference's bootstrap confidence interval (questions resampled
  with replacement) is above zero,
- it loses at most `tolerance` dev nDCG@10, and at most `tolerance` nDCG@10 on the guard set.
Deliberately wrong feedback lowers the preference and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..evaluation.metrics import mrr_at_k, ndcg_at_k
from .training_set import DevQuery

Encode = Callable[[list[str]], list[list[float]]]
K = 10
RESAMPLES = 2000


@dataclass(frozen=True)
class RetrievalSet:
    """Queries, a corpus and which passages answer which query."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]


@dataclass(frozen=True)
class Scores:
    """One model on one set, averaged over its questions."""

    ndcg: float
    mrr: float
    queries: int
    margin: float = 0.0  # mean lead of the best positive over the best other passage, in sd


@dataclass(frozen=True)
class Ranking:
    """One model on one set, per question (in the set's question order)."""

    ranks: tuple[int, ...]  # rank of the best relevant passage in the whole corpus, 1 = first
    margins: tuple[float, ...]  # its lead over the best other passage, in sd of the others
    ndcg: tuple[float, ...]
    mrr: tuple[float, ...]
    # The best cosine among the other passages: the top hit's score were the answer missing.
    without_answer: tuple[float, ...] = ()

    def scores(self) -> Scores:
        n = len(self.ranks)
        if not n:
            return Scores(0.0, 0.0, 0)
        return Scores(
            round(float(np.mean(self.ndcg)), 4),
            round(float(np.mean(self.mrr)), 4),
            n,
            round(float(np.mean(self.margins)), 4),
        )


@dataclass(frozen=True)
class Interval:
    """A mean over questions with its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


@dataclass(frozen=True)
class Threshold:
    """The not-found threshold carried over to the candidate: the share of dev questions
    whose answer is held out that the serving model's threshold calls "not found" is kept."""

    serving: float
    candidate: float
    not_found_share: float


@dataclass(frozen=True)
class Rule:
    """What a candidate must show (KNOWHERE_GATE_*)."""

    min_questions: int = 15  # distinct dev questions needed to judge at all
    confidence: float = 0.95  # of the preference's interval, whose lower bound must be > 0
    tolerance: float = 0.01  # dev and guard-set nDCG@10 a candidate may lose
    resamples: int = RESAMPLES
    seed: int = 0


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: list[str]
    current_dev: Scores
    candidate_dev: Scores
    current_guard: Scores
    candidate_guard: Scores
    preference: Interval | None = None  # candidate's wins minus losses over dev questions
    dev_gain: Interval | None = None  # candidate's dev nDCG@10 minus the serving model's
    guard_gain: Interval | None = None
    min_relevance: Threshold | None = None  # for the candidate, should it serve

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def dev_set(dev: list[DevQuery], passages: dict[str, str]) -> RetrievalSet:
    queries = {str(i): q.query for i, q in enumerate(dev)}
    relevant = {str(i): set(q.relevant) for i, q in enumerate(dev)}
    return RetrievalSet(queries, passages, relevant)


def guard_set(path: Path | None = None) -> RetrievalSet:
    """General-domain questions and answers (JSONL of {query, passage}); default: bundled."""
    if path is None:
        text = resources.files("indexing").joinpath("data/guard.jsonl").read_text("utf-8")
        where = "indexing/data/guard.jsonl"
    else:
        text, where = path.read_text("utf-8"), str(path)
    queries, corpus, relevant = {}, {}, {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            queries[str(number)], corpus[str(number)] = record["query"], record["passage"]
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(f"{where}:{number}: expected {{query, passage}} ({err})") from err
        relevant[str(number)] = {str(number)}
    return RetrievalSet(queries, corpus, relevant)


def rank(encode: Encode, data: RetrievalSet, k: int = K) -> Ranking:
    """Dense retrieval over the whole corpus, per question."""
    qids = [q for q in data.queries if data.relevant.get(q, set()) & data.corpus.keys()]
    if not qids:
        return Ranking((), (), (), ())
    ids = list(data.corpus)
    position = {passage_id: j for j, passage_id in enumerate(ids)}
    corpus = np.asarray(encode([data.corpus[i] for i in ids]), dtype=np.float32)
    queries = np.asarray(encode([data.queries[q] for q in qids]), dtype=np.float32)
    similarity = queries @ corpus.T
    top = np.argsort(-similarity, axis=1)[:, :k]
    ranks, margins, ndcg, mrr, without_answer = [], [], [], [], []
    for row, qid in enumerate(qids):
        positive = [position[p] for p in data.relevant[qid] if p in position]
        best = float(similarity[row, positive].max())
        others = np.delete(similarity[row], positive)
        ranks.append(1 + int((others > best).sum()))
        spread = float(others.std()) if others.size > 1 else 0.0
        runner_up = float(others.max()) if others.size else best
        without_answer.append(runner_up)
        margins.append((best - runner_up) / spread if spread > 0 else 0.0)
        ranked = [ids[j] for j in top[row]]
        judged = dict.fromkeys(data.relevant[qid], 1)
        ndcg.append(ndcg_at_k(ranked, judged, k))
        mrr.append(mrr_at_k(ranked, judged, k))
    return Ranking(tuple(ranks), tuple(margins), tuple(ndcg), tuple(mrr), tuple(without_answer))


def preferences(current: Ranking, candidate: Ranking) -> np.ndarray:
    """Per question: +1 where the candidate ranks the answer higher (or, at the same rank,
    holds it further ahead), -1 where the serving model does, 0 on a tie."""
    ranks = np.sign(np.subtract(current.ranks, candidate.ranks))
    margins = np.sign(np.round(np.subtract(candidate.margins, current.margins), 6))
    return np.where(ranks != 0, ranks, margins).astype(np.float64)


def interval(values: np.ndarray, rule: Rule) -> Interval:
    """The mean of `values` and its percentile bootstrap interval over resampled questions."""
    n = len(values)
    draws = np.random.default_rng(rule.seed).integers(0, n, size=(rule.resamples, n))
    means = values[draws].mean(axis=1)
    tail = (1 - rule.confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(
        round(float(values.mean()), 4), round(float(low), 4), round(float(high), 4), rule.confidence
    )


def carry_threshold(current: Ranking, candidate: Ranking, threshold: float) -> Threshold | None:
    """The candidate's not-found threshold: its scores are scaled differently, so the serving
    one does not carry over as a number. With each dev question's answer held out, the
    serving threshold calls a share of them "not found"; the candidate's threshold is the
    score that calls the same share not found. When the serving threshold lies below (or
    above) every such score, no share pins the candidate's down: None, keep the default."""
    if not current.without_answer or not candidate.without_answer:
        return None
    share = float(np.mean(np.asarray(current.without_answer) < threshold))
    if share in (0.0, 1.0):
        return None
    carried = float(np.quantile(candidate.without_answer, share))
    return Threshold(threshold, round(carried, 4), round(share, 4))


def judge(
    current_dev: Ranking,
    candidate_dev: Ranking,
    current_guard: Ranking,
    candidate_guard: Ranking,
    rule: Rule,
    min_relevance: float | None = None,
) -> Verdict:
    """The verdict; with `min_relevance` (the serving threshold), also the candidate's."""

    def verdict(reasons: list[str], **found: Interval | Threshold | None) -> Verdict:
        return Verdict(
            not reasons,
            reasons,
            current_dev.scores(),
            candidate_dev.scores(),
            current_guard.scores(),
            candidate_guard.scores(),
            **found,  # type: ignore[arg-type]
        )

    questions = len(current_dev.ranks)
    if questions < max(rule.min_questions, 2):
        reason = (
            f"{questions} distinct dev questions; the gate needs {rule.min_questions} to tell "
            "(KNOWHERE_GATE_MIN_DEV_QUESTIONS; more feedback brings more)"
        )
        return verdict([reason])
    preference = interval(preferences(current_dev, candidate_dev), rule)
    dev_gain = interval(np.subtract(candidate_dev.ndcg, current_dev.ndcg), rule)
    guard_gain = (
        interval(np.subtract(candidate_guard.ndcg, current_guard.ndcg), rule)
        if current_guard.ranks
        else None
    )
    reasons = []
    if preference.low <= 0:
        reasons.append(
            f"not better on dev with {rule.confidence:.0%} confidence: preference {preference} "
            f"over {questions} questions (the lower bound must be above 0)"
        )
    if dev_gain.mean < -rule.tolerance:
        reasons.append(
            f"dev nDCG@10 fell by {-dev_gain.mean:.4f}, more than the tolerance {rule.tolerance}"
        )
    if guard_gain is not None and guard_gain.mean < -rule.tolerance:
        reasons.append(
            f"guard nDCG@10 fell by {-guard_gain.mean:.4f}, more than the tolerance "
            f"{rule.tolerance}"
        )
    threshold = (
        None
        if min_relevance is None
        else carry_threshold(current_dev, candidate_dev, min_relevance)
    )
    return verdict(
        reasons,
        preference=preference,
        dev_gain=dev_gain,
        guard_gain=guard_gain,
        min_relevance=threshold,
    )
