"""Slack's AI app surface (Bolt's `Assistant`), where the app is set up as one: a new thread
greets the person with suggested prompts, a question gets a title for its thread and a status
while the answer is made, then the answer, with the asker's own access as in any direct
message. Without the AI app feature Slack sends none of its events, and a threaded direct
message is answered here all the same (with a placeholder, as the status cannot be set)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_bolt.context.set_title.async_set_title import AsyncSetTitle
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from indexing import verified_questions

from ..answering import PLATFORM, answer_in_channel, question_of

log = logging.getLogger(__name__)
GREETING = (
    "Hi! Ask me anything the knowledge base can answer: I reply with the sources I used, "
    "only from pages you may read."
)
PROMPTS_TITLE = "Experts have answered these:"
MAX_PROMPTS = 4  # Slack shows up to four suggested prompts
TITLE_LIMIT = 80


async def thread_started(
    event: dict[str, Any],
    client: AsyncWebClient,
    set_suggested_prompts: AsyncSetSuggestedPrompts,
    context: Any,
) -> None:
    """Greet, and suggest questions with an expert's answer the person may read (else the
    configured prompts)."""
    thread = event["assistant_thread"]
    await client.chat_postMessage(
        channel=thread["channel_id"], thread_ts=thread["thread_ts"], text=GREETING
    )
    prompts = await suggestions(context["knowhere"], thread["user_id"])
    if prompts:
        await set_suggested_prompts(prompts=prompts, title=PROMPTS_TITLE)


async def suggestions(bot: Any, user: str) -> list[str]:
    """Verified questions `user` may read every source of, newest first; else the prompts
    the operator configured."""
    found: list[str] = []
    if bot.experts is not None:
        person = await bot.people.person(user)
        found = await asyncio.to_thread(
            verified_questions, bot.experts.answers, bot.store, person, MAX_PROMPTS
        )
    return (found or list(bot.prompts))[:MAX_PROMPTS]


async def user_message(
    payload: dict[str, Any],
    client: AsyncWebClient,
    set_status: AsyncSetStatus,
    set_title: AsyncSetTitle,
    context: Any,
) -> None:
    """A question in an assistant thread: titled after the first one, answered privately."""
    bot = context["knowhere"]
    channel, thread = payload["channel"], payload["thread_ts"]
    question = question_of(payload.get("text", ""))
    # One query: the turns answered there are both the history and "not the first question".
    turns = await asyncio.to_thread(bot.answer_log.thread_turns, PLATFORM, channel, thread)
    if question and not turns:
        try:
            await set_title(question[:TITLE_LIMIT])
        except SlackApiError as err:  # not an AI app: its threads have no titles
            log.info("no thread title (%s)", err.response.get("error"))
    await answer_in_channel(
        bot, client, payload, thread=thread, direct=True, status=set_status, turns=turns
    )


async def context_changed() -> None:
    """The person looked at another channel: answers use their own access wherever they look,
    so there is nothing to keep (Bolt's default would save it in the thread's metadata)."""


def assistant() -> AsyncAssistant:
    helper = AsyncAssistant()
    helper.thread_started(thread_started)
    helper.user_message(user_message)
    helper.thread_context_changed(context_changed)
    return helper
