"""Which votes a training set learns from: a user who 👎s everything teaches nothing."""

from __future__ import annotations

from indexing.learning.training_set import LabelledPair, clean, normalise, split_by_query


def vote(user: str, question: int, label: int, passage: str = "p") -> LabelledPair:
    return LabelledPair(
        f"question {question}?", f"text of {passage}", passage, label, "feedback", user=user
    )


def test_votes_of_a_user_who_thumbs_down_every_answer_are_left_out():
    grumpy = [vote("grumpy@example.com", q, -1, f"p{q}") for q in range(6)]
    fair = [vote("ana@example.com", q, 1 if q % 2 else -1, f"p{q}") for q in range(6)]
    ticket = LabelledPair("printer?", "second floor", "t1", 1, "ticket")

    kept, stats = clean([*grumpy, *fair, ticket])

    assert {p.user for p in kept} == {"ana@example.com", ""}
    assert stats["all_down_voters"] == 1 and stats["all_down_pairs"] == 6
    assert stats["pairs_kept"] == 7


def test_a_few_thumbs_down_are_an_opinion_not_a_pattern():
    kept, stats = clean([vote("bo@example.com", q, -1, f"p{q}") for q in range(4)])
    assert len(kept) == 4 and stats["all_down_voters"] == 0


def test_dev_gets_exactly_its_share_of_the_questions_and_no_question_is_on_both_sides():

    pairs = [vote(f"user{q % 7}@example.com", q, 1, f"p{q}") for q in range(100)]
    pairs += [vote("ana@example.com", q, -1, f"n{q}") for q in range(100)]
    train, dev = split_by_query(pairs, 0.2)
    dev_questions = {normalise(p.query) for p in dev}
    assert len(dev_questions) == 20
    assert not dev_questions & {normalise(p.query) for p in train}
    again = split_by_query(list(reversed(pairs)), 0.2)[1]
    assert {normalise(p.query) for p in again} == dev_questions  # the order does not matter
