"""An escalation: an answer handed to people, as the JSON a ticket system receives.

The webhook's body is `escalation_payload(...)` as JSON. Its headers let the receiver check
that Knowhere sent it and when:

    X-Knowhere-Timestamp: 1764680000
    X-Knowhere-Signature: v1=<hex HMAC-SHA256 of "v1:<timestamp>:<body>" with the shared secret>

A receiver recomputes the HMAC over the raw body (`verify_signature`) and refuses timestamps
older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from .log import StoredAnswer

MAX_AGE_S = 300


def escalation_payload(stored: StoredAnswer, user: str, via: str) -> dict[str, Any]:
    """What an escalation hands over: the question, the answer and its sources, where it was
    asked, who asked and who escalated it (README: Escalation to people)."""
    answer = stored.answer
    return {
        "type": "knowhere.escalation",
        "answer_id": stored.id,
        "question": answer.question,
        "answer": answer.text,
        "found": answer.found,
        "sources": [{"number": c.number, "title": c.title, "url": c.url} for c in answer.citations],
        "platform": stored.platform,
        "conversation": stored.conversation,
        "thread": stored.thread,
        "asker": stored.asker,
        "escalated_by": user,
        "via": via,
        "at": datetime.now(UTC).isoformat(),
    }


def sign_body(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The webhook's signature headers for `body`."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret, b"v1:%d:" % moment + body, hashlib.sha256).hexdigest()
    return {"X-Knowhere-Timestamp": str(moment), "X-Knowhere-Signature": f"v1={digest}"}


def verify_signature(secret: bytes, body: bytes, headers: dict[str, str], now: float) -> bool:
    """What a receiver checks: the signature over the raw body, and a recent timestamp."""
    try:
        moment = int(headers.get("X-Knowhere-Timestamp", ""))
    except ValueError:
        return False
    if abs(now - moment) > MAX_AGE_S:
        return False
    expected = sign_body(secret, body, moment)["X-Knowhere-Signature"]
    return hmac.compare_digest(expected, headers.get("X-Knowhere-Signature", ""))
