"""Escalation to people: *Still need help* (or, in Slack, a 🎫 reaction) hands an answer to the
configured targets — a channel of the bot's own platform (Slack or Teams; in Slack also a
user group: mentioned in that channel, or without one each of its members in a direct
message, shown the answer only when they may read it), and/or a webhook
that a ticket system receives (JSON signed with HMAC-SHA256; see
`indexing.escalation_payload`). Each escalation is recorded with the answer; one per person
and answer. The channel sees the answer and its sources only when all of its members may read
every passage the answer was made from (a DM's answer may not qualify); the ticket system,
which keeps its own permissions, gets everything."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from indexing import (
    AnswerLog,
    ConfigError,
    Settings,
    StoredAnswer,
    escalation_payload,
    sign_body,
)

COULD_NOT_ESCALATE = "I couldn't hand this to the support team just now; please try again."

# Posts an escalation in the chat platform (the stored answer, the payload): where it went.
PostToChat = Callable[[StoredAnswer, dict[str, object]], Awaitable[list[str]]]
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")  # a Slack user group id


@dataclass(frozen=True)
class Escalation:
    """Where escalations go (from the settings at start-up): `channel` is on `platform`."""

    channel: str | None = None
    webhook_url: str | None = None
    webhook_secret: bytes = b""
    platform: str = "slack"
    group: str | None = None  # a Slack user group (id S…): told in `channel`, or each one

    @classmethod
    def from_settings(cls, settings: Settings, platform: str = "slack") -> Escalation | None:
        channel = (
            settings.escalation_slack_channel
            if platform == "slack"
            else settings.escalation_teams_channel
        )
        group = settings.escalation_slack_group if platform == "slack" else None
        if group and not _GROUP_ID.match(group):
            raise ConfigError(
                f"KNOWHERE_ESCALATION_SLACK_GROUP={group!r} is not a user group id (S…, from "
                "the group's profile or usergroups.list)"
            )
        if not channel and not group and not settings.escalation_webhook_url:
            return None
        secret = settings.escalation_webhook_secret
        if settings.escalation_webhook_url and not (secret and secret.get_secret_value()):
            raise ConfigError(
                "KNOWHERE_ESCALATION_WEBHOOK_URL is set without KNOWHERE_ESCALATION_WEBHOOK_SECRET:"
                " escalations are only sent signed"
            )
        return cls(
            channel,
            settings.escalation_webhook_url,
            secret.get_secret_value().encode() if secret else b"",
            platform,
            group,
        )

    @property
    def who(self) -> str:
        """Who has it, as the asker is told."""
        places = []
        if self.channel:
            places.append(
                f"<#{self.channel}>" if self.platform == "slack" else "the support channel"
            )
        elif self.group:
            places.append("the support team")
        if self.webhook_url:
            places.append("the support ticket queue")
        return " and ".join(places)


async def escalate(
    escalation: Escalation,
    log: AnswerLog,
    answer_id: str,
    user: str,
    via: str,
    post: PostToChat,
) -> str | None:
    """Hand the answer to people; the note for the asker (None: nothing to escalate)."""
    stored = await asyncio.to_thread(log.get, answer_id)
    if stored is None:
        return None
    if await asyncio.to_thread(log.escalated_by, answer_id, user):
        return f"You already asked for help with this; {escalation.who} has it."
    payload = escalation_payload(stored, user, via)
    targets = []
    if escalation.channel or escalation.group:
        targets += await post(stored, payload)
    if escalation.webhook_url:
        await _post_webhook(escalation, json.dumps(payload).encode())
        targets.append("webhook")
    await asyncio.to_thread(log.record_escalation, answer_id, user, via, " ".join(targets))
    return f"I've handed your question to {escalation.who}: someone will follow up."


async def _post_webhook(escalation: Escalation, body: bytes) -> None:
    assert escalation.webhook_url is not None
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(httpx.TransportError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.5, max=4),
        reraise=True,
    ):
        with attempt:
            headers = {"Content-Type": "application/json"}
            if escalation.webhook_secret:
                headers |= sign_body(escalation.webhook_secret, body)
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.post(escalation.webhook_url, content=body, headers=headers)
                response.raise_for_status()
