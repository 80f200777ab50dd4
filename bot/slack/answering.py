"""Answering in Slack: placeholder, audience, thread history, answer, and the answer log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
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
THINKING = "is searching the knowledge base…"  # an AI app's thread status while answering

# Sets an AI app's thread status (Bolt's `set_status`): shown instead of a placeholder.
SetStatus = Callable[[str], Awaitable[Any]]
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
    status: SetStatus | None = None,
    turns: list[Turn] | None = None,
) -> None:
    """Post a placeholder (in an AI app's thread: set its `status`), then the answer for the
    message's audience in its place (when the bot takes the question on now: else the asker
    alone is told when to try again). `turns`: the thread's earlier turns when the caller has
    already read them from the answer log (else they are read when needed)."""
    channel, user = event["channel"], event.get("user", "")
    question = question_of(event.get("text", ""))
    if not question:
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=ASK_SOMETHING)
        return
    try:
        async with admitted(bot, user):
            await _answer(bot, client, event, question, thread, direct, status, turns)
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
    status: SetStatus | None = None,
    known_turns: list[Turn] | None = None,
) -> None:
    channel, user = event["channel"], event.get("user", "")
    placeholder = None
    if status is None or not await _shown(status, THINKING):
        placeholder = await client.chat_postMessage(
            channel=channel, thread_ts=thread, text=SEARCHING
        )
    try:
        asker = await bot.people.person(user)
        audience = asker if direct else await bot.people.channel(channel)
        turns: list[Turn] = known_turns[-HISTORY_TURNS:] if known_turns else []
        if thread and thread != event["ts"] and not turns:
            skip = {event["ts"], placeholder["ts"] if placeholder else ""}
            turns = await history(bot, client, channel, thread, skip)
        answer = await bot.runner.ask(question, audience, turns, None if direct else asker)
        answer_id = await asyncio.to_thread(
            bot.answer_log.record,
            answer,
            PLATFORM,
            channel,
            user,
            thread,
            placeholder["ts"] if placeholder else None,
        )
        text, blocks = fallback_text(answer), blocks_for(bot, answer, answer_id)
        if placeholder:
            await client.chat_update(
                channel=channel, ts=placeholder["ts"], text=text, blocks=blocks
            )
        else:  # posting in the thread clears its status
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, text=text, blocks=blocks
            )
            await asyncio.to_thread(
                bot.answer_log.add_message, answer_id, PLATFORM, channel, posted["ts"]
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
        if placeholder:
            await client.chat_update(channel=channel, ts=placeholder["ts"], text=SORRY)
        else:
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=SORRY)


async def _shown(status: SetStatus, text: str) -> bool:
    """Whether the thread's status could be set (an app not set up as an AI app may not)."""
    try:
        await status(text)
    except SlackApiError as err:
        log.info("no thread status (%s): a placeholder instead", err.response.get("error"))
        return False
    return True
