"""Reactions and votes as labels: 👍 is +1, 👎 is -1, whatever the client calls them."""

from __future__ import annotations

from indexing import AnswerLog

_LABELS = {"+1": 1, "thumbsup": 1, "like": 1, "-1": -1, "thumbsdown": -1, "dislike": -1}


def reaction_label(name: str) -> tuple[str, int] | None:
    """(canonical name, label) of a thumbs reaction (skin tones ignored), else None."""
    base = name.split("::", 1)[0].lower()
    label = _LABELS.get(base)
    if label is None:
        return None
    return ("+1" if label > 0 else "-1"), label


def record_reaction(log: AnswerLog, answer_id: str, user: str, name: str, added: bool) -> None:
    """A thumbs reaction on an answer: added is a vote, removed withdraws it; others are ignored."""
    named = reaction_label(name)
    if named is None:
        return
    signal, label = named
    if added:
        log.add_feedback(answer_id, user, "reaction", signal, label)
    else:
        log.withdraw(answer_id, user, "reaction", signal)


def record_source_vote(log: AnswerLog, answer_id: str, user: str, number: int, label: int) -> str:
    """A 👍/👎 on one cited source. The same vote again takes it back; returns what happened."""
    signal = f"source-{number}"
    if log.active_vote(answer_id, user, "source", signal) == label:
        log.withdraw(answer_id, user, "source", signal)
        return "withdrawn"
    log.add_feedback(answer_id, user, "source", signal, label, passage=number)
    return "recorded"
