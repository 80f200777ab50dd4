"""Button and menu listeners: share an answer, vote on it, vote on one of its sources, hand it
to people."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from indexing import Audience, StoredAnswer, made_from, readable_by

from ...escalation import COULD_NOT_ESCALATE, escalate
from ...feedback import record_source_vote
from ...more import private_answer
from ..answering import PLATFORM, SORRY, blocks_for
from ..render import FEEDBACK_ACTION, escalation_text, fallback_text, verify_modal

log = logging.getLogger("knowhere.bot")

CANNOT_SHARE = (
    "I can't share this answer here: some of its sources are not visible to everyone in this "
    "channel."
)


async def share_answer(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """Post a private answer to the channel, only if everyone there may read every passage the
    answer was made from (not only the cited ones: the generator saw them all)."""
    await ack()
    bot = context["knowhere"]
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    stored = await asyncio.to_thread(bot.answer_log.get, action["value"])
    if stored is None:
        return
    if not await readable_in(bot, stored, channel):
        await client.chat_postEphemeral(channel=channel, user=user, text=CANNOT_SHARE)
        return
    posted = await client.chat_postMessage(
        channel=channel,
        text=f"<@{user}> shared: {fallback_text(stored.answer)}",
        blocks=blocks_for(bot, stored.answer, stored.id),
    )
    await asyncio.to_thread(bot.answer_log.add_message, stored.id, PLATFORM, channel, posted["ts"])


async def readable_in(bot: Any, stored: StoredAnswer, channel: str) -> bool:
    """Whether everyone in `channel` may read every passage the answer was made from (not only
    the cited ones: the generator saw them all)."""
    return await readable_for(bot, stored, await bot.people.channel(channel))


async def readable_for(bot: Any, stored: StoredAnswer, audience: Audience) -> bool:
    """Whether `audience` may read every passage the answer was made from."""
    chunk_ids = made_from(stored.answer)
    return bool(await asyncio.to_thread(readable_by, bot.store, chunk_ids, audience))


async def answer_vote(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """👍 / 👎 (Slack's feedback buttons, value "<answer id>:up|down"; or the *Helpful* /
    *Not helpful* buttons of answers posted before them): a vote on the answer; pressed
    again, it is taken back."""
    await ack()
    answers = context["knowhere"].answer_log
    if action["action_id"] == FEEDBACK_ACTION:
        answer_id, _, kind = str(action["value"]).rpartition(":")
    else:
        answer_id, kind = action["value"], action["action_id"].removeprefix("feedback_")
    if kind not in ("up", "down") or not answer_id:
        log.warning("a feedback action with an unknown value: %r", action.get("value"))
        return
    label = 1 if kind == "up" else -1
    user = body["user"]["id"]
    current = await asyncio.to_thread(answers.active_vote, answer_id, user, "button", "vote")
    if current == label:
        await asyncio.to_thread(answers.withdraw, answer_id, user, "button", "vote")
        note = "Your feedback was removed."
    else:
        await asyncio.to_thread(answers.add_feedback, answer_id, user, "button", "vote", label)
        note = "Thanks, your feedback helps me find better sources."
    await _tell(client, body, user, note)


async def source_vote(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """A source's menu: this source helped / was not relevant (the same again takes it back)."""
    await ack()
    answer_id, number, kind = action["selected_option"]["value"].rsplit(":", 2)
    user = body["user"]["id"]
    done = await asyncio.to_thread(
        record_source_vote,
        context["knowhere"].answer_log,
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


async def escalate_answer(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """*Still need help*: the question, the answer and its sources go to the escalation targets."""
    await ack()
    note = await hand_to_people(
        context["knowhere"], client, action["value"], body["user"]["id"], "button"
    )
    if note:
        await _tell(client, body, body["user"]["id"], note)


async def hand_to_people(
    bot: Any, client: AsyncWebClient, answer_id: str, user: str, via: str
) -> str | None:
    """Escalate `answer_id` for `user`; the note to show them (None: nothing to escalate)."""
    if bot.escalation is None:
        return None

    escalation = bot.escalation

    async def post(stored: StoredAnswer, payload: dict[str, object]) -> list[str]:
        """In the support channel (mentioning the user group, when there is one); with a
        group and no channel, to each of its members in a direct message."""
        if escalation.channel:
            text = escalation_text(payload, await readable_in(bot, stored, escalation.channel))
            if escalation.group:
                text = f"<!subteam^{escalation.group}> {text}"
            await client.chat_postMessage(channel=escalation.channel, text=text, unfurl_links=False)
            return [f"slack:{escalation.channel}"]
        listed = await client.usergroups_users_list(usergroup=escalation.group)
        for member in listed.get("users") or []:
            readable = await readable_for(bot, stored, await bot.people.person(member))
            text = escalation_text(payload, readable)
            await client.chat_postMessage(channel=member, text=text, unfurl_links=False)
        return [f"slack:group:{escalation.group}"]

    try:
        return await escalate(escalation, bot.answer_log, answer_id, user, via, post)
    except Exception:
        log.exception("escalating answer %s failed", answer_id)
        return COULD_NOT_ESCALATE


async def more_answer(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """*More from sources only you can see*: the question answered again with the asker's own
    access, shown to them alone (an ephemeral message in the answer's thread)."""
    await ack()
    bot = context["knowhere"]
    user = body["user"]["id"]
    try:
        found = await private_answer(
            bot.runner, bot.answer_log, action["value"], user, lambda: bot.people.person(user)
        )
        if isinstance(found, str):
            await _tell(client, body, user, found)
            return
        stored, private = found
        private_id = await asyncio.to_thread(
            bot.answer_log.record, private, PLATFORM, stored.conversation, user, stored.thread
        )
        await client.chat_postEphemeral(
            channel=stored.conversation,
            user=user,
            thread_ts=stored.thread,
            text=fallback_text(private),
            blocks=blocks_for(bot, private, private_id),
        )
    except Exception:
        log.exception("the private answer to %s failed", action["value"])
        await _tell(client, body, user, SORRY)


async def verify_answer(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """*Verify*: an expert gets the answer in a modal to edit and confirm; anyone else is told
    only experts may."""
    await ack()
    bot = context["knowhere"]
    user = body["user"]["id"]
    if not await _an_expert(bot, client, body, user):
        return
    stored = await asyncio.to_thread(bot.answer_log.get, action["value"])
    if stored is None:
        return
    channel = (body.get("channel") or {}).get("id") or ""
    modal = verify_modal(stored.id, channel, stored.answer.text)
    await client.views_open(trigger_id=body["trigger_id"], view=modal)


async def verify_submitted(
    ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """The modal confirmed: stored as verified with the (edited) text, if the sender is still
    an expert."""
    await ack()
    bot = context["knowhere"]
    user = body["user"]["id"]
    meta = json.loads(view.get("private_metadata") or "{}")
    if bot.experts is None or not bot.experts.is_expert(await bot.people.principal(user)):
        note = bot.experts.not_an_expert if bot.experts else None
    else:
        text = view["state"]["values"]["answer"]["text"]["value"] or ""
        name = await bot.people.name(user)
        note = await bot.experts.verify(
            bot.answer_log, bot.store, str(meta.get("answer_id", "")), text, user, name
        )
    if note and meta.get("channel"):
        await client.chat_postEphemeral(channel=meta["channel"], user=user, text=note)


async def withdraw_verified(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    """*Withdraw verification*: an expert takes a verified answer back."""
    await ack()
    bot = context["knowhere"]
    user = body["user"]["id"]
    if not await _an_expert(bot, client, body, user):
        return
    await _tell(client, body, user, await bot.experts.withdraw(action["value"], user))


async def _an_expert(bot: Any, client: AsyncWebClient, body: dict[str, Any], user: str) -> bool:
    """Whether `user` may verify (experts are configured and they are one); else told so."""
    if bot.experts is None:
        return False
    if not bot.experts.is_expert(await bot.people.principal(user)):
        await _tell(client, body, user, bot.experts.not_an_expert)
        return False
    return True


async def _tell(client: AsyncWebClient, body: dict[str, Any], user: str, note: str) -> None:
    """A note only `user` sees, in the channel of the action (if it came from one)."""
    channel = (body.get("channel") or {}).get("id")
    if channel:
        await client.chat_postEphemeral(channel=channel, user=user, text=note)
