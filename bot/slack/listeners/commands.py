"""The slash command (`/ask` by default): an answer only the asker sees, with *Share*.

The answer goes back through the command's `response_url` (Bolt's `respond`), not
`chat.postEphemeral`, so `/ask` works in any channel, also one the bot was never invited to.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...admission import NotNow
from ..answering import ASK_SOMETHING, PLATFORM, SORRY, admitted, blocks_for, question_of
from ..render import SEARCHING, fallback_text

log = logging.getLogger(__name__)


async def ask(ack: Any, command: dict[str, Any], respond: Any, context: Any) -> None:
    bot = context["knowhere"]
    question = question_of(command.get("text", ""))
    if not question:
        await ack(response_type="ephemeral", text=ASK_SOMETHING)
        return
    user, channel = command["user_id"], command["channel_id"]
    try:
        async with admitted(bot, user):
            await ack(response_type="ephemeral", text=SEARCHING)
            await _answer(bot, respond, question, user, channel)
    except NotNow as not_now:
        await ack(response_type="ephemeral", text=not_now.note)


async def _answer(bot: Any, respond: Any, question: str, user: str, channel: str) -> None:
    try:
        audience = await bot.people.person(user)
        answer = await bot.runner.ask(question, audience, [])
        answer_id = await asyncio.to_thread(bot.answer_log.record, answer, PLATFORM, channel, user)
        await respond(
            response_type="ephemeral",
            replace_original=False,
            text=fallback_text(answer),
            blocks=blocks_for(bot, answer, answer_id, shareable=True),
        )
    except Exception:
        log.exception("slash command failed")
        await respond(response_type="ephemeral", replace_original=False, text=SORRY)
