"""Whether a message in an answered thread asks something (and so gets an answer).

A thread the bot answered is a conversation: a follow-up needs no mention. But "thanks!",
"ok, that worked" or a colleague's aside are not questions, and answering them is noise.
A message asks something when it holds a question mark, or opens with a question word or a
request ("how…", "can…", "explain…", "tell me…") and says at least a little more.
"""

from __future__ import annotations

import re

OPENERS = frozenset(
    [
        "what",
        "whats",
        "what's",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "may",
        "might",
        "shall",
        "should",
        "will",
        "would",
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "am",
        "has",
        "have",
        "had",
        "explain",
        "tell",
        "show",
        "list",
        "describe",
        "give",
        "find",
        "compare",
        "any",
        "anything",
    ]
)
_WORD = re.compile(r"[\w']+")
MIN_WORDS = 3  # "how come?" has its mark; "how about" alone is not enough to go on


def asks_something(text: str) -> bool:
    """Whether `text` asks something (a question mark, or a question word or request first)."""
    if "?" in text:
        return True
    words = _WORD.findall(text.lower())
    return len(words) >= MIN_WORDS and words[0] in OPENERS
