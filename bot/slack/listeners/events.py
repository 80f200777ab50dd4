"""Event listeners: mentions, direct messages and thread follow-ups, membership, reactions."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from indexing import asks_something

from ...feedback import reaction_label, record_reaction
from ..answering import PLATFORM, answer_in_channel
from .actions import hand_to_people

TICKET = "ticket"  # 🎫: hand the answer to people


async def app_mention(event: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
    """A mention in a channel: answered in its thread, for everyone in the channel."""
    thread = event.get("thread_ts") or event["ts"]
    await answer_in_channel(context["knowhere"], client, event, thread=thread, direct=False)


async def message(event: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
    """A direct message (the asker's own permissions), or a follow-up question in a thread we
    answered."""
    bot = context["knowhere"]
    if event.get("subtype") or event.get("bot_id"):
        return  # edits, joins, other bots, ourselves
    if event.get("channel_type") == "im":
        await answer_in_channel(bot, client, event, thread=event.get("thread_ts"), direct=True)
        return
    thread = event.get("thread_ts")
    mentioned = f"<@{context.get('bot_user_id')}" in (event.get("text") or "")
    if thread and not mentioned and asks_something(event.get("text") or ""):
        # A follow-up in a thread we answered ("thanks!" is not one); mentions go to
        # app_mention.
        # (One query: the turns posted there are both the proof and the history.)
        turns = await asyncio.to_thread(
            bot.answer_log.thread_turns, PLATFORM, event["channel"], thread
        )
        if turns:
            await answer_in_channel(bot, client, event, thread=thread, direct=False, turns=turns)


async def membership_changed(event: dict[str, Any], context: Any) -> None:
    """Who may see answers in the channel changed: never answer for the old membership."""
    await context["knowhere"].people.forget_channel(event.get("channel", ""))


async def reaction_added(
    event: dict[str, Any], context: Any, client: AsyncWebClient | None = None
) -> None:
    await _reaction(context["knowhere"], event, added=True, client=client)


async def reaction_removed(event: dict[str, Any], context: Any) -> None:
    await _reaction(context["knowhere"], event, added=False)


async def _reaction(
    bot: Any, event: dict[str, Any], added: bool, client: AsyncWebClient | None = None
) -> None:
    item = event.get("item", {})
    name = event.get("reaction", "")
    wanted = reaction_label(name) is not None or (name == TICKET and added and bot.escalation)
    if not wanted or item.get("type") != "message":
        return  # not a thumbs or 🎫 reaction on a message: no need to look anything up
    answer_id = await asyncio.to_thread(
        bot.answer_log.answer_for_message, PLATFORM, item["channel"], item["ts"]
    )
    if answer_id is None:
        return  # a reaction on some other message
    if name == TICKET:
        if client is None:
            return
        note = await hand_to_people(bot, client, answer_id, event["user"], "reaction")
        if note:
            await client.chat_postEphemeral(channel=item["channel"], user=event["user"], text=note)
        return
    await asyncio.to_thread(
        record_reaction, bot.answer_log, answer_id, event["user"], event["reaction"], added
    )
