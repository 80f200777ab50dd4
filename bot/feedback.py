"""Reactions and votes as labels: 👍 is +1, 👎 is -1, whatever the client calls them."""

from __future__ import annotations

_LABELS = {"+1": 1, "thumbsup": 1, "like": 1, "-1": -1, "thumbsdown": -1, "dislike": -1}


def reaction_label(name: str) -> tuple[str, int] | None:
    """(canonical name, label) of a thumbs reaction (skin tones ignored), else None."""
    base = name.split("::", 1)[0].lower()
    label = _LABELS.get(base)
    if label is None:
        return None
    return ("+1" if label > 0 else "-1"), label
