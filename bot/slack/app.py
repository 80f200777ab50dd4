"""The Slack app (Bolt, asyncio): mentions, DMs, thread follow-ups, /ask, feedback.

Every event is acknowledged before any work: Bolt answers Slack's HTTP request as soon as
the middleware has run (signature check, duplicate check) and runs the listeners afterwards.
A listener posts a placeholder at once, then replaces it with the answer (`chat.update`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from indexing.access import Audience
from indexing.answerlog import AnswerLog
from indexing.answerservice import Turn
from indexing.store import ChunkStore

from ..dedupe import Deduper
from ..feedback import reaction_label, record_reaction, record_source_vote
from ..runner import AnswerRunner
from .people import SlackPeople
from .render import SEARCHING, answer_blocks, fallback_text

log = logging.getLogger(__name__)
PLATFORM = "slack"
HISTORY_TURNS = 10
SORRY = ":warning: Sorry, I could not answer that just now. Please try again in a minute."
ASK_SOMETHING = "Ask me a question, e.g. `How do I connect to the VPN?`"
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


@dataclass
class SlackBot:
    """What the listeners need; built once at start-up (see `bot.cli`)."""

    runner: AnswerRunner
    answer_log: AnswerLog
    people: SlackPeople
    deduper: Deduper
    store: ChunkStore  # to check, before sharing, that a channel may read the sources


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out 429s (`Retry-After`) and retries dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def question_of(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text or "").split())


def build_app(
    bot: SlackBot, client: AsyncWebClient, signing_secret: str, command: str = "/ask"
) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    @app.middleware
    async def deliver_once(body: dict[str, Any], next: Any) -> BoltResponse | None:
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id and not await bot.deduper.first_time(f"slack:{event_id}"):
            return BoltResponse(status=200, body="")  # a retry of an event already handled
        await next()
        return None

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        thread = event.get("thread_ts") or event["ts"]
        await _answer(bot, client, event, thread=thread, direct=False)

    @app.event("message")
    async def on_message(event: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, other bots, ourselves
        if event.get("channel_type") == "im":
            await _answer(bot, client, event, thread=event.get("thread_ts"), direct=True)
            return
        thread = event.get("thread_ts")
        mentioned = f"<@{context.bot_user_id}" in (event.get("text") or "")
        if thread and not mentioned:  # a mention is answered by on_mention
            answered = await asyncio.to_thread(
                bot.answer_log.answered_thread, PLATFORM, event["channel"], thread
            )
            if answered:
                await _answer(bot, client, event, thread=thread, direct=False)

    @app.command(command)
    async def on_command(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        question = question_of(command.get("text", ""))
        if not question:
            await ack(response_type="ephemeral", text=ASK_SOMETHING)
            return
        await ack(response_type="ephemeral", text=SEARCHING)
        user, channel = command["user_id"], command["channel_id"]
        try:
            audience = await bot.people.person(user)
            answer = await bot.runner.ask(question, audience, [])
            answer_id = await asyncio.to_thread(
                bot.answer_log.record, answer, PLATFORM, channel, user
            )
            await client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=fallback_text(answer),
                blocks=answer_blocks(answer, answer_id, shareable=True),
            )
        except Exception:
            log.exception("slash command failed")
            await client.chat_postEphemeral(channel=channel, user=user, text=SORRY)

    @app.action("share_answer")
    async def on_share(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
        stored = await asyncio.to_thread(bot.answer_log.get, action["value"])
        if stored is None:
            return
        audience = await bot.people.channel(channel)
        chunk_ids = [c.chunk_id for c in stored.answer.citations]
        if not await asyncio.to_thread(_readable, bot.store, chunk_ids, audience):
            await client.chat_postEphemeral(
                channel=channel,
                user=user,
                text="I can't share this answer here: some of its sources are not visible to "
                "everyone in this channel.",
            )
            return
        posted = await client.chat_postMessage(
            channel=channel,
            text=f"<@{user}> shared: {fallback_text(stored.answer)}",
            blocks=answer_blocks(stored.answer, stored.id),
        )
        await asyncio.to_thread(
            bot.answer_log.add_message, stored.id, PLATFORM, channel, posted["ts"]
        )

    @app.action(re.compile(r"^feedback_(up|down)$"))
    async def on_vote(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        label = 1 if action["action_id"] == "feedback_up" else -1
        user, answer_id = body["user"]["id"], action["value"]
        current = await asyncio.to_thread(
            bot.answer_log.active_vote, answer_id, user, "button", "vote"
        )
        if current == label:  # pressed again: take the vote back
            await asyncio.to_thread(bot.answer_log.withdraw, answer_id, user, "button", "vote")
            note = "Your feedback was removed."
        else:
            await asyncio.to_thread(
                bot.answer_log.add_feedback, answer_id, user, "button", "vote", label
            )
            note = "Thanks, your feedback helps me find better sources."
        await _tell(client, body, user, note)

    @app.action("source_vote")
    async def on_source_vote(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        answer_id, number, kind = action["selected_option"]["value"].rsplit(":", 2)
        user = body["user"]["id"]
        done = await asyncio.to_thread(
            record_source_vote,
            bot.answer_log,
            answer_id,
            user,
            int(number),
            1 if kind == "up" else -1,
        )
        note = (
            f"Your feedback on source [{number}] was removed."
            if done == "withdrawn"
            else f"Thanks, noted for source [{number}]."
        )
        await _tell(client, body, user, note)

    @app.event("member_joined_channel")
    @app.event("member_left_channel")
    async def on_membership(event: dict[str, Any]) -> None:
        # Who may see answers in the channel changed: never answer for the old membership.
        bot.people.forget_channel(event.get("channel", ""))

    @app.event("reaction_added")
    async def on_reaction_added(event: dict[str, Any]) -> None:
        await _reaction(bot, event, added=True)

    @app.event("reaction_removed")
    async def on_reaction_removed(event: dict[str, Any]) -> None:
        await _reaction(bot, event, added=False)

    return app


async def _tell(client: AsyncWebClient, body: dict[str, Any], user: str, note: str) -> None:
    """A note only `user` sees, in the channel of the action (if it came from one)."""
    channel = (body.get("channel") or {}).get("id")
    if channel:
        await client.chat_postEphemeral(channel=channel, user=user, text=note)


def _readable(store: ChunkStore, chunk_ids: list[str], audience: Audience) -> bool:
    found = store.fetch(chunk_ids)
    return len(found) == len(set(chunk_ids)) and all(
        audience.may_read(h.acl_users, h.acl_groups, h.acl_public) for h in found
    )


async def _reaction(bot: SlackBot, event: dict[str, Any], added: bool) -> None:
    item = event.get("item", {})
    if reaction_label(event.get("reaction", "")) is None or item.get("type") != "message":
        return  # not a thumbs reaction on a message: no need to look anything up
    answer_id = await asyncio.to_thread(
        bot.answer_log.answer_for_message, PLATFORM, item["channel"], item["ts"]
    )
    if answer_id is None:
        return  # a reaction on some other message
    await asyncio.to_thread(
        record_reaction, bot.answer_log, answer_id, event["user"], event["reaction"], added
    )


async def _history(client: AsyncWebClient, channel: str, thread: str, skip: set[str]) -> list[Turn]:
    """The thread's earlier messages as turns (ours as the assistant's)."""
    try:
        response = await client.conversations_replies(channel=channel, ts=thread, limit=50)
    except SlackApiError as err:
        log.warning(
            "conversations.replies failed (%s): answering without the thread",
            err.response.get("error"),
        )
        return []
    turns = []
    messages: list[dict[str, Any]] = response.get("messages") or []
    for message in messages:
        if message.get("ts") in skip or not message.get("text"):
            continue
        text = question_of(message["text"])
        if text and text != SEARCHING:
            turns.append(Turn("assistant" if message.get("bot_id") else "user", text))
    return turns[-HISTORY_TURNS:]


async def _answer(
    bot: SlackBot,
    client: AsyncWebClient,
    event: dict[str, Any],
    thread: str | None,
    direct: bool,
) -> None:
    channel, user = event["channel"], event.get("user", "")
    question = question_of(event.get("text", ""))
    if not question:
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=ASK_SOMETHING)
        return
    placeholder = await client.chat_postMessage(channel=channel, thread_ts=thread, text=SEARCHING)
    try:
        audience = await (bot.people.person(user) if direct else bot.people.channel(channel))
        history: list[Turn] = []
        if thread and thread != event["ts"]:
            history = await _history(client, channel, thread, {event["ts"], placeholder["ts"]})
        answer = await bot.runner.ask(question, audience, history)
        answer_id = await asyncio.to_thread(
            bot.answer_log.record, answer, PLATFORM, channel, user, thread, placeholder["ts"]
        )
        await client.chat_update(
            channel=channel,
            ts=placeholder["ts"],
            text=fallback_text(answer),
            blocks=answer_blocks(answer, answer_id),
        )
    except Exception:
        log.exception("answering in %s failed", channel)
        await client.chat_update(channel=channel, ts=placeholder["ts"], text=SORRY)
