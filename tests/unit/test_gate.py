"""The gate promotes a fine-tuned embedder only when the dev questions show, with confidence,
that it ranks their answers better, and it has not forgotten the general domain."""

from __future__ import annotations

import numpy as np

from indexing.learning import gate
from indexing.learning.gate import Ranking, Rule

RULE = Rule(min_questions=15)
GUARD = Ranking((1,) * 80, (3.0,) * 80, (1.0,) * 80, (1.0,) * 80)


def ranking(ranks: list[int], margins: list[float]) -> Ranking:
    ndcg = tuple(1 / np.log2(r + 1) if r <= 10 else 0.0 for r in ranks)
    mrr = tuple(1 / r if r <= 10 else 0.0 for r in ranks)
    return Ranking(tuple(ranks), tuple(margins), ndcg, mrr)


def test_a_candidate_ranking_the_answers_higher_is_promoted_with_its_interval():
    serving = ranking([3] * 30, [-0.5] * 30)
    better = ranking([1] * 24 + [3] * 6, [0.8] * 24 + [-0.5] * 6)

    verdict = gate.judge(serving, better, GUARD, GUARD, RULE)

    assert verdict.promote, verdict.reasons
    assert verdict.preference is not None and verdict.preference.low > 0
    assert verdict.preference.low <= verdict.preference.mean <= verdict.preference.high
    assert verdict.dev_gain is not None and verdict.dev_gain.mean > 0
    assert verdict.as_dict()["preference"]["confidence"] == 0.95  # type: ignore[index]


def test_at_saturated_ranks_the_answer_held_further_ahead_wins():
    serving = ranking([1] * 30, [1.0] * 30)
    further = ranking([1] * 30, [1.0 + 0.1 * (i % 5 + 1) for i in range(30)])
    assert gate.judge(serving, further, GUARD, GUARD, RULE).promote
    assert not gate.judge(further, serving, GUARD, GUARD, RULE).promote


def test_a_model_that_only_rescales_cosines_is_not_preferred():
    """Raw cosine gaps grow when a model merely spreads its scores: the gate measures the
    lead in each model's own standard deviations, so such a twin is a tie and is refused."""
    rng = np.random.default_rng(1)
    corpus = {f"p{i}": f"passage {i}" for i in range(200)}
    queries = {f"q{i}": f"question {i}" for i in range(20)}
    relevant = {f"q{i}": {f"p{i}"} for i in range(20)}
    data = gate.RetrievalSet(queries, corpus, relevant)
    vectors = {text: rng.normal(size=16) for text in [*corpus.values(), *queries.values()]}
    for i in range(20):  # each question lies near its passage
        vectors[f"question {i}"] = vectors[f"passage {i}"] + 0.3 * rng.normal(size=16)

    def serving(texts: list[str]) -> list[list[float]]:
        return [list(vectors[t]) for t in texts]

    def spread(texts: list[str]) -> list[list[float]]:  # every score doubled
        return [list(2 * vectors[t]) for t in texts]

    current, twin = gate.rank(serving, data), gate.rank(spread, data)
    assert current.ranks == twin.ranks
    assert np.allclose(current.margins, twin.margins)
    verdict = gate.judge(current, twin, GUARD, GUARD, RULE)
    assert not verdict.promote and "not better on dev" in verdict.reasons[0]


def test_noisy_results_whose_interval_reaches_zero_are_refused():
    serving = ranking([2] * 30, [0.0] * 30)
    mixed = ranking([1] * 16 + [3] * 14, [0.0] * 30)  # 16 wins, 14 losses
    verdict = gate.judge(serving, mixed, GUARD, GUARD, RULE)
    assert not verdict.promote
    assert verdict.preference is not None and verdict.preference.low <= 0 < verdict.preference.mean


def test_a_handful_of_dev_questions_is_not_enough_to_tell():
    serving = ranking([3] * 6, [-0.5] * 6)
    better = ranking([1] * 6, [1.0] * 6)
    verdict = gate.judge(serving, better, GUARD, GUARD, RULE)
    assert not verdict.promote
    assert "6 distinct dev questions" in verdict.reasons[0]
    assert "KNOWHERE_GATE_MIN_DEV_QUESTIONS" in verdict.reasons[0]


def test_forgetting_the_general_domain_is_refused_even_when_dev_improves():
    serving = ranking([3] * 30, [-0.5] * 30)
    better = ranking([1] * 30, [1.0] * 30)
    forgot = Ranking((1,) * 70 + (20,) * 10, (3.0,) * 80, (1.0,) * 70 + (0.0,) * 10, (1.0,) * 80)
    verdict = gate.judge(serving, better, GUARD, forgot, RULE)
    assert not verdict.promote and "guard nDCG@10 fell by 0.1250" in verdict.reasons[0]


def test_the_same_inputs_give_the_same_interval():
    serving = ranking([2] * 20, [0.0] * 20)
    candidate = ranking([1] * 12 + [2] * 4 + [3] * 4, [0.0] * 20)
    first = gate.judge(serving, candidate, GUARD, GUARD, RULE)
    assert first == gate.judge(serving, candidate, GUARD, GUARD, RULE)


def test_the_not_found_threshold_is_carried_over_to_the_candidates_scale():
    """With each dev question's answer held out, the serving model's threshold calls 40 % of
    them "not found"; on a candidate scoring 2x + 0.1, the same share is below 2t + 0.1."""
    without = tuple(0.1 + 0.01 * i for i in range(40))  # 0.10 … 0.49
    serving = Ranking((1,) * 40, (1.0,) * 40, (1.0,) * 40, (1.0,) * 40, without)
    candidate = Ranking(
        (1,) * 40, (1.0,) * 40, (1.0,) * 40, (1.0,) * 40, tuple(2 * s + 0.1 for s in without)
    )
    carried = gate.carry_threshold(serving, candidate, 0.26)
    assert carried is not None and carried.not_found_share == 0.4
    assert abs(carried.candidate - (2 * 0.26 + 0.1)) < 0.02
    verdict = gate.judge(serving, candidate, GUARD, GUARD, RULE, min_relevance=0.26)
    assert verdict.min_relevance == carried
    # A threshold below every held-out score pins nothing down: the default stays.
    assert gate.carry_threshold(serving, candidate, 0.05) is None


def test_the_bundled_guard_set_has_enough_questions():
    assert len(gate.guard_set().queries) >= 50
