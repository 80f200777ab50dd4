"""Questions sent to the `answers` queue, signed by the bot that asks.

Anyone who can write to Redis could otherwise put a task on the queue that asks as `hr` and
read the passages back from the result backend. So a bot signs each request (question,
audience, thread, time) with HMAC-SHA256 under `KNOWHERE_ANSWER_SIGNING_KEY`, shared by the
bots and the answer workers only; a worker answers only a request whose signature checks out
and that is recent. What comes back carries what the asker is shown (the answer, titles,
links, snippets), never whole passages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from ..access.model import Audience
from ..errors import KnowhereError
from .turns import Turn

MAX_AGE_S = 300  # a bot waits two minutes for an answer; older requests are stale


class RequestRefused(KnowhereError):
    """An answer request that is not signed by a bot, or too old to be one."""


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    audience: Audience
    history: list[Turn]
    asker: Audience | None = None  # in a channel: the person who asked (see AnswerService.ask)


def _mac(key: bytes, body: dict[str, Any]) -> str:
    encoded = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    return hmac.new(key, encoded, hashlib.sha256).hexdigest()


def sign_request(key: bytes, request: AnswerRequest, now: float | None = None) -> dict[str, Any]:
    """The request as a task argument, with its time and signature."""
    body = {
        "question": request.question,
        "audience": request.audience.to_dict(),
        "history": [{"role": t.role, "text": t.text} for t in request.history],
        "asker": request.asker.to_dict() if request.asker is not None else None,
        "issued_at": round(now if now is not None else time.time(), 3),
    }
    return {**body, "signature": _mac(key, body)}


def verify_request(
    key: bytes, signed: dict[str, Any], now: float | None = None, max_age_s: float = MAX_AGE_S
) -> AnswerRequest:
    """The request if a bot signed it recently; RequestRefused otherwise."""
    if not key:
        raise RequestRefused("KNOWHERE_ANSWER_SIGNING_KEY is not set: no request is trusted")
    body = {k: v for k, v in signed.items() if k != "signature"}
    if not hmac.compare_digest(str(signed.get("signature", "")), _mac(key, body)):
        raise RequestRefused("the answer request is not signed with the bots' key")
    age = (now if now is not None else time.time()) - float(body.get("issued_at", 0))
    if not -30 <= age <= max_age_s:
        raise RequestRefused(f"the answer request is {age:.0f}s old (at most {max_age_s:.0f}s)")
    return AnswerRequest(
        str(body["question"]),
        Audience.from_dict(body["audience"]),
        [Turn(t["role"], t["text"]) for t in body["history"]],
        Audience.from_dict(body["asker"]) if body.get("asker") is not None else None,
    )
