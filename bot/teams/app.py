"""The Teams bot on the Microsoft 365 Agents SDK: 1:1 chats, mentions, feedback, reactions.

Same answer service, runner, answer log and access rules as the Slack bot; only the
transport differs. Each answer message is recorded with its activity id, so Teams' feedback
(`message/submitAction`) and reactions map back to (query, passage, label) pairs.

A question is acknowledged at once: the turn sends "typing" and ends, so Bot Framework's
HTTP request (which it gives 15 seconds) is answered in milliseconds. The answer (and a
private *More* answer) is made afterwards and sent in a proactive turn,
`continue_conversation` with the incoming request's claims, as a reply to the question.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentApplication,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.authorization import (
    AgentAuthConfiguration,
    AnonymousTokenProvider,
)
from microsoft_agents.hosting.core.authorization.connection_manager import ConnectionManager

from indexing import (
    Answer,
    AnswerLog,
    ChunkStore,
    ConfigError,
    Settings,
    StoredAnswer,
    made_from,
    readable_by,
)

from ..admission import Admission, NotNow
from ..dedupe import Deduper
from ..escalation import COULD_NOT_ESCALATE, Escalation, escalate
from ..feedback import reaction_label, record_reaction
from ..more import private_answer
from ..runner import AnswerRunner
from ..verification import Experts
from .more import MORE_KEY, offer_in_private
from .people import CONNECTOR_CLIENT_KEY, TeamsPeople, membership_keys
from .render import (
    ESCALATE_KEY,
    VERIFY_KEY,
    WITHDRAW_KEY,
    answer_activity,
    answer_card,
    escalation_activity,
    submitted,
)

log = logging.getLogger(__name__)
PLATFORM = "teams"
SORRY = "Sorry, I could not answer that just now. Please try again in a minute."


@dataclass
class TeamsBot:
    runner: AnswerRunner
    answer_log: AnswerLog
    people: TeamsPeople
    deduper: Deduper
    store: ChunkStore  # to check that a support channel may read an escalated answer
    escalation: Escalation | None = None  # where *Still need help* sends an answer
    experts: Experts | None = None  # who may verify answers, and where verified ones are kept
    admission: Admission | None = None  # per-user rate limit and bounded queue (None: none)
    pending: set[asyncio.Task[None]] = field(default_factory=set)  # answers being made

    async def finish(self, timeout: float = 30.0) -> None:
        """Let the answers being made reach their askers (at shutdown), for up to `timeout`."""
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=timeout)


def later(
    bot: TeamsBot,
    adapter: CloudAdapter,
    context: TurnContext,
    work: Callable[[TurnContext], Awaitable[None]],
) -> None:
    """Run `work` after this turn has ended, in a proactive turn on the same conversation
    (continue_conversation with the incoming request's claims, the incoming activity as its
    reference: the reply goes to the question, and who asked where is known as in the turn)."""
    activity, identity = context.activity, context.identity
    if identity is None:  # the adapter gives every incoming turn its request's claims
        raise RuntimeError("a turn without the claims of its request cannot be continued")

    async def run() -> None:
        try:
            await adapter.continue_conversation_with_claims(identity, activity, work)
        except Exception:
            log.exception("the proactive turn in %s failed", activity.conversation.id)

    task = asyncio.get_running_loop().create_task(run())
    bot.pending.add(task)
    task.add_done_callback(bot.pending.discard)


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """Who may call /api/messages: Bot Framework tokens for our app id from an accepted issuer
    (Bot Framework, or our tenant's Entra ID), or anyone (local development only).

    Every setting a secured bot needs is checked here, at start, so a bot never starts and
    then fails every reply."""
    password = settings.teams_app_password
    if not settings.teams_anonymous:
        required = (
            ("APP_ID", settings.teams_app_id),
            ("APP_PASSWORD", password),
            ("TENANT_ID", settings.teams_tenant_id),
        )
        for name, value in required:
            if not value:
                raise ConfigError(
                    f"KNOWHERE_TEAMS_{name} is not set (from the Azure Bot registration; for "
                    "local development without tokens set KNOWHERE_TEAMS_ANONYMOUS=true)"
                )
    return AgentAuthConfiguration(
        client_id=settings.teams_app_id,
        tenant_id=settings.teams_tenant_id,
        client_secret=password.get_secret_value() if password else None,
        anonymous_allowed=settings.teams_anonymous,
        validate_issuer=not settings.teams_anonymous,  # the SDK leaves it off by default
    )


def _token_provider(config: AgentAuthConfiguration) -> Any:
    """Replies carry an Entra token (client secret); none in anonymous development mode."""
    if config.CLIENT_SECRET:
        from microsoft_agents.authentication.msal import MsalAuth

        return MsalAuth(config)
    return AnonymousTokenProvider()


def build_agent(
    bot: TeamsBot, config: AgentAuthConfiguration
) -> tuple[AgentApplication[TurnState], CloudAdapter]:
    connections = ConnectionManager(
        provider_factory=_token_provider,
        connections_configurations={"SERVICE_CONNECTION": config},
    )
    adapter = CloudAdapter(connection_manager=connections)
    agent = AgentApplication[TurnState](storage=MemoryStorage(), connection_manager=connections)

    @agent.activity(ActivityTypes.message)
    async def on_message(context: TurnContext, _: TurnState) -> None:
        activity = context.activity
        if not await bot.deduper.first_time(f"teams:{activity.conversation.id}:{activity.id}"):
            return  # a redelivery of a message already answered
        personal = activity.conversation.conversation_type == "personal"
        more_of = submitted(activity, MORE_KEY)
        if personal and more_of:
            await context.send_activity(Activity(type=ActivityTypes.typing))
            later(bot, adapter, context, lambda turn: _answer_privately(bot, turn, more_of))
            return
        escalated = submitted(activity, ESCALATE_KEY)
        if escalated:  # *Still need help* pressed, in a chat or a channel (a webhook may be slow)
            later(bot, adapter, context, lambda turn: _escalate(bot, turn, escalated))
            return
        if submitted(activity, VERIFY_KEY) or submitted(activity, WITHDRAW_KEY):
            await _verification(bot, context)
            return
        if not personal and not activity.is_recipient_mentioned():
            return  # channels and group chats: only when mentioned
        question = (activity.remove_recipient_mention() or activity.text or "").strip()
        if not question:
            return
        await context.send_activity(Activity(type=ActivityTypes.typing))
        later(bot, adapter, context, lambda turn: _admitted(bot, turn, question, personal))

    @agent.activity(ActivityTypes.invoke)
    async def on_invoke(context: TurnContext, _: TurnState) -> None:
        activity = context.activity
        if activity.name == "message/submitAction":
            await _feedback(bot, context)
        # Teams expects an empty 200 for the feedback invoke.
        await context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value={"status": 200})
        )

    @agent.message_reaction("reactionsAdded")
    async def on_reactions_added(context: TurnContext, _: TurnState) -> None:
        await _reactions(bot, context, context.activity.reactions_added or [], added=True)

    @agent.message_reaction("reactionsRemoved")
    async def on_reactions_removed(context: TurnContext, _: TurnState) -> None:
        await _reactions(bot, context, context.activity.reactions_removed or [], added=False)

    @agent.conversation_update("membersAdded")
    async def on_members_added(context: TurnContext, _: TurnState) -> None:
        await _forget(bot, context)

    @agent.conversation_update("membersRemoved")
    async def on_members_removed(context: TurnContext, _: TurnState) -> None:
        await _forget(bot, context)

    return agent, adapter


async def _admitted(bot: TeamsBot, context: TurnContext, question: str, personal: bool) -> None:
    """The answer, when the bot takes the question on now; else the asker is told when to
    try again."""
    try:
        async with bot.admission.admit(_user(context)) if bot.admission else nullcontext():
            await _answer_message(bot, context, question, personal)
    except NotNow as not_now:
        await context.send_activity(not_now.note)


async def _answer_message(
    bot: TeamsBot, context: TurnContext, question: str, personal: bool
) -> None:
    """The answer for the chat's or channel's audience (and the private "more" offer when
    the asker may read more)."""
    try:
        asker = await bot.people.person(context)
        audience = asker if personal else await bot.people.conversation(context)
        answer = await bot.runner.ask(question, audience, [], None if personal else asker)
        answer_id = await _send_answer(bot, context, answer)
    except Exception:
        log.exception("answering in Teams failed")
        await context.send_activity(SORRY)
        return
    if answer.more:  # the asker may read more: offered in their 1:1 chat, to them alone
        try:
            await offer_in_private(context, answer_id)
        except Exception:
            log.exception("offering the private answer in a 1:1 chat failed")


async def _send_answer(bot: TeamsBot, context: TurnContext, answer: Answer) -> str:
    """Store the answer, send it, and link the message to it (feedback names only the
    message); its id."""
    conversation = context.activity.conversation.id
    answer_id = await asyncio.to_thread(
        bot.answer_log.record, answer, PLATFORM, conversation, _user(context)
    )
    buttons = answer_card(answer, answer_id, bot.escalation is not None, bot.experts is not None)
    sent = await context.send_activity(answer_activity(answer, buttons=buttons))
    if sent and sent.id:
        await asyncio.to_thread(
            bot.answer_log.add_message, answer_id, PLATFORM, conversation, sent.id
        )
    return answer_id


async def _answer_privately(bot: TeamsBot, context: TurnContext, answer_id: str) -> None:
    """*More* pressed in the asker's 1:1 chat: the question answered with their own access."""
    try:
        found = await private_answer(
            bot.runner,
            bot.answer_log,
            answer_id,
            _user(context),
            lambda: bot.people.person(context),
        )
        if isinstance(found, str):
            await context.send_activity(found)
            return
        await _send_answer(bot, context, found[1])
    except Exception:
        log.exception("the private answer to %s failed", answer_id)
        await context.send_activity(SORRY)


async def _verification(bot: TeamsBot, context: TurnContext) -> None:
    """*Verify* (with the expert's text) or *Withdraw verification* submitted from a card."""
    if bot.experts is None:
        return
    audience = await bot.people.person(context)
    if not bot.experts.is_expert(next(iter(audience.principals), None)):
        await context.send_activity(bot.experts.not_an_expert)
        return
    activity = context.activity
    verify_id, withdraw_id = submitted(activity, VERIFY_KEY), submitted(activity, WITHDRAW_KEY)
    if withdraw_id:
        note = await bot.experts.withdraw(withdraw_id, _user(context))
    else:
        value = activity.value if isinstance(activity.value, dict) else {}
        text = value.get("text")
        note = await bot.experts.verify(
            bot.answer_log,
            bot.store,
            str(verify_id),
            str(text) if text is not None else None,
            _user(context),
            activity.from_property.name or _user(context),
        )
    await context.send_activity(note)


async def _escalate(bot: TeamsBot, context: TurnContext, answer_id: str) -> None:
    """*Still need help*: the question, the answer and its sources go to the escalation
    targets; the support channel sees the answer only when all its members may read it."""
    escalation = bot.escalation
    if escalation is None:
        return
    name = context.activity.from_property.name or "Someone"

    async def post(stored: StoredAnswer, payload: dict[str, object]) -> list[str]:
        channel = str(escalation.channel)
        audience = await bot.people.members_of(context, channel)
        readable = await asyncio.to_thread(
            readable_by, bot.store, made_from(stored.answer), audience
        )
        connector: Any = context.turn_state[CONNECTOR_CLIENT_KEY]
        message = escalation_activity(payload, readable, name)
        await connector.conversations.send_to_conversation(channel, message)
        return [f"teams:{channel}"]

    try:
        note = await escalate(escalation, bot.answer_log, answer_id, _user(context), "button", post)
    except Exception:
        log.exception("escalating answer %s failed", answer_id)
        note = COULD_NOT_ESCALATE
    if note:
        await context.send_activity(note)


async def _forget(bot: TeamsBot, context: TurnContext) -> None:
    """Membership changed: never answer for the old member list."""
    await bot.people.forget(membership_keys(context.activity))


def _user(context: TurnContext) -> str:
    sender = context.activity.from_property
    return str(sender.aad_object_id or sender.id)


async def _answer_of(bot: TeamsBot, context: TurnContext) -> str | None:
    activity = context.activity
    if not activity.reply_to_id:
        return None
    return await asyncio.to_thread(
        bot.answer_log.answer_for_message, PLATFORM, activity.conversation.id, activity.reply_to_id
    )


async def _feedback(bot: TeamsBot, context: TurnContext) -> None:
    value: dict[str, Any] = (
        context.activity.value if isinstance(context.activity.value, dict) else {}
    )
    if value.get("actionName") != "feedback":
        return
    action: dict[str, Any] = value.get("actionValue") or {}
    named = reaction_label(str(action.get("reaction", "")))
    answer_id = await _answer_of(bot, context)
    if named is None or answer_id is None:
        return
    comment = None
    try:
        comment = json.loads(action.get("feedback") or "{}").get("feedbackText") or None
    except (ValueError, AttributeError):
        comment = None
    await asyncio.to_thread(
        bot.answer_log.add_feedback,
        answer_id,
        _user(context),
        "teams-feedback",
        "vote",
        named[1],
        comment,
    )


async def _reactions(bot: TeamsBot, context: TurnContext, reactions: list, added: bool) -> None:
    answer_id = await _answer_of(bot, context)
    if answer_id is None:
        return
    for reaction in reactions:
        await asyncio.to_thread(
            record_reaction,
            bot.answer_log,
            answer_id,
            _user(context),
            str(reaction.type or ""),
            added,
        )
