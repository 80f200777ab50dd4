"""Answering in Slack: placeholder, audience, thread history, answer, and the answer log."""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from indexing import Answer, Turn

from ..admission import NotNow
from ..more import MORE_OFFER
from .render import SEARCHING, answer_blocks, fallback_text, more_offer_blocks

if TYPE_CHECKING:
    from .app import SlackBot

log = logging.getLogger(__name__)
PLATFORM = "slack"
HISTORY_TURNS = 10
SORRY = ":warning: Sorry, I could not answer that just now. Please try again in a minute."
ASK_SOMETHING = "Ask me a question, e.g. `How do I connect to the VPN?`"
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def question_of(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text or "").split())


async def history(
    bot: SlackBot, client: AsyncWebClient, channel: str, thread: str, skip: set[str]
) -> list[Turn]:
    """The thread's earlier turns: from the answer log when the bot answered in it (no Slack
    call at all), else the thread's messages from `conversations.replies`, paged to the end
    (ours as the assistant's)."""
    logged = await asyncio.to_thread(bot.answer_log.thread_turns, PLATFORM, channel, thread)
    if logged:
        return logged[-HISTORY_TURNS:]
    turns: list[Turn] = []
    cursor = None
    try:
        while True:
            response = await client.conversations_replies(
                channel=channel, ts=thread, limit=200, cursor=cursor
            )
            messages: list[dict[str, Any]] = response.get("messages") or []
            for message in messages:
                if message.get("ts") in skip or not message.get("text"):
                    continue
                text = question_of(message["text"])
                if text and text != SEARCHING:
                    turns.append(Turn("assistant" if message.get("bot_id") else "user", text))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as err:
        log.warning(
            "conversations.replies failed (%s): answering without the thread",
            err.response.get("error"),
        )
        return []
    return turns[-HISTORY_TURNS:]


def blocks_for(bot: SlackBot, answer: Answer, answer_id: str, shareable: bool = False) -> list:
    """The answer's blocks with the buttons this bot offers (escalation, verification)."""
    return answer_blocks(
        answer,
        answer_id,
        shareable=shareable,
        escalate=bot.escalation is not None,
        verify=bot.experts is not None,
    )


async def answer_in_channel(
    bot: SlackBot,
    client: AsyncWebClient,
    event: dict[str, Any],
    thread: str | None,
    direct: bool,
) -> None:
    """Post a placeholder, then replace it with the answer for the message's audience (when
    the bot takes the question on now: else the asker alone is told when to try again)."""
    channel, user = event["channel"], event.get("user", "")
    question = question_of(event.get("text", ""))
    if not question:
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=ASK_SOMETHING)
        return
    try:
        async with admitted(bot, user):
            await _answer(bot, client, event, question, thread, direct)
    except NotNow as not_now:
        await client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread, text=not_now.note
        )


def admitted(bot: SlackBot, user: str) -> AbstractAsyncContextManager[None]:
    """A place for `user`'s question (NotNow when there is none); always one without limits."""
    return bot.admission.admit(user) if bot.admission else nullcontext()


async def _answer(
    bot: SlackBot,
    client: AsyncWebClient,
    event: dict[str, Any],
    question: str,
    thread: str | None,
    direct: bool,
) -> None:
    channel, user = event["channel"], event.get("user", "")
    placeholder = await client.chat_postMessage(channel=channel, thread_ts=thread, text=SEARCHING)
    try:
        asker = await bot.people.person(user)
        audience = asker if direct else await bot.people.channel(channel)
        turns: list[Turn] = []
        if thread and thread != event["ts"]:
            turns = await history(bot, client, channel, thread, {event["ts"], placeholder["ts"]})
        answer = await bot.runner.ask(question, audience, turns, None if direct else asker)
        answer_id = await asyncio.to_thread(
            bot.answer_log.record, answer, PLATFORM, channel, user, thread, placeholder["ts"]
        )
        await client.chat_update(
            channel=channel,
            ts=placeholder["ts"],
            text=fallback_text(answer),
            blocks=blocks_for(bot, answer, answer_id),
        )
        if answer.more:  # the asker may read more: offered to them alone
            await client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=thread,
                text=MORE_OFFER,
                blocks=more_offer_blocks(answer_id),
            )
    except Exception:
        log.exception("answering in %s failed", channel)
        await client.chat_update(channel=channel, ts=placeholder["ts"], text=SORRY)
