"""Answers as Teams messages: markdown text with [n] markers, citation entities, AI label.

Teams shows each `[n]` as a citation pill from the schema.org `Message` entity (title ≤ 80,
abstract ≤ 160 characters, at most 20 citations), labels the message "AI generated", and
with `feedbackLoopEnabled` shows its like/dislike buttons.
"""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, Entity

from indexing import Answer

MAX_CITATIONS = 20


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def citation_entity(answer: Answer) -> dict[str, Any]:
    return {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
        "citation": [
            {
                "@type": "Claim",
                "position": c.number,
                "appearance": {
                    "@type": "DigitalDocument",
                    "name": _clip(c.label or c.title, 80),
                    "url": c.url if c.url.startswith(("http://", "https://")) else None,
                    "abstract": _clip(c.snippet, 160),
                },
            }
            for c in answer.citations[:MAX_CITATIONS]
        ],
    }


def answer_activity(answer: Answer) -> Activity:
    text = answer.text
    if not answer.found and answer.citations:
        text += "\n\n" + "\n".join(f"- {c.label or c.title} [{c.number}]" for c in answer.citations)
    return Activity(
        type=ActivityTypes.message,
        text=text,
        text_format="markdown",
        entities=[Entity(**citation_entity(answer))],
        channel_data={"feedbackLoopEnabled": True},
    )
