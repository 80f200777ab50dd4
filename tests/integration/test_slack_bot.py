"""The Slack bot end to end over HTTP: signed events in, Web API calls out (to a stand-in)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO
from processes import bot_env, knowhere, running_bot, wait_for
from scrape import scrape, value
from standins.slack_standin import (
    BOT_ID,
    BOT_USER,
    SlackStandIn,
    action_body,
    command_body,
    event_body,
    overflow_body,
    signed_headers,
    view_submission_body,
)
from standins.ticket_system import TicketSystem

from indexing import AnswerLog, Settings, verify_signature
from indexing.infra.database import utc_now
from indexing.infra.local_services import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures"
SECRET = "test-signing-secret-8f2d"
GENERAL, HR_CHANNEL, ALICE_DM = "CGENERAL", "CHRTEAM", "DALICE"
ALICE, BOB, CAROL = "UALICE", "UBOB", "UCAROL"  # Alice and Carol are experts
SALARY_QUESTION = "What is the salary band for software engineers?"
SUPPORT = "CSUPPORT"  # the escalation channel
PROJECTS = "CPROJECTS"  # a channel of its own for the outcomes report
WEBHOOK_SECRET = "webhook-secret-4c1d"


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        state = standin.state
        state.add_user(ALICE, "alice@northwind.example")  # in hr (tests/fixtures/groups.yml)
        state.add_user(BOB, "bob@northwind.example")
        state.add_user(CAROL, "carol@northwind.example", name="Carol Jones")  # an expert
        state.add_user(BOT_USER, None, is_bot=True)
        state.channels[GENERAL] = [ALICE, BOB, CAROL, BOT_USER]
        state.channels[HR_CHANNEL] = [ALICE, BOT_USER]
        state.channels[ALICE_DM] = [ALICE, BOT_USER]
        state.channels[SUPPORT] = [BOB, BOT_USER]  # the support team: not in hr
        state.channels[PROJECTS] = [ALICE, BOB, BOT_USER]
        yield standin


@pytest.fixture(scope="module")
def bot_settings(company_settings: Settings) -> Settings:
    return company_settings


@pytest.fixture(scope="module")
def ticket_system() -> Iterator[TicketSystem]:
    """A ticket system's webhook receiver: it keeps each request it was sent."""
    with TicketSystem() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def bot(bot_settings: Settings, slack: SlackStandIn, ticket_system: TicketSystem) -> Iterator[str]:
    """The bot as its own process (`knowhere-bot slack`), talking to the stand-in."""
    env = bot_env(
        bot_settings,
        KNOWHERE_SLACK_BOT_TOKEN="xoxb-test-token",
        KNOWHERE_SLACK_SIGNING_SECRET=SECRET,
        KNOWHERE_SLACK_API_URL=slack.api_url,
        KNOWHERE_ESCALATION_SLACK_CHANNEL=SUPPORT,
        KNOWHERE_ESCALATION_SLACK_GROUP="SSUPPORT",  # the support team's user group
        KNOWHERE_ESCALATION_WEBHOOK_URL=ticket_system.url,
        KNOWHERE_ESCALATION_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # The module asks Bob dozens of questions a minute: no rate limit here (see
        # test_admission.py for it).
        KNOWHERE_USER_QUESTIONS_PER_MINUTE="1000",
        KNOWHERE_EXPERTS_GROUP="experts",
        KNOWHERE_SLACK_SUGGESTED_PROMPTS='["How do I connect to the VPN?"]',
    )
    log_path = bot_settings.home / "slack-bot.log"
    with running_bot(["slack", "--port", str(free_port())], env, log_path) as url:
        yield url
    logged = log_path.read_text()
    assert "xoxb-test-token" not in logged and SECRET not in logged
    assert WEBHOOK_SECRET not in logged


@pytest.fixture
def answer_log(bot_settings: Settings) -> Iterator[AnswerLog]:
    log = AnswerLog(str(bot_settings.database_url))
    yield log
    log.close()


def send_event(
    bot: str,
    event: dict[str, Any],
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    body = event_body(event, event_id or f"Ev{uuid.uuid4().hex[:10]}")
    sent = {**signed_headers(secret, body, timestamp), **(headers or {})}
    return httpx.post(f"{bot}/slack/events", content=body, headers=sent, timeout=10)


def send_form(bot: str, body: str) -> httpx.Response:
    headers = signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
    return httpx.post(f"{bot}/slack/events", content=body, headers=headers, timeout=10)


def user_message(
    slack: SlackStandIn,
    channel: str,
    user: str,
    text: str,
    thread: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A message as Slack would store it (so conversations.replies returns it) and send it."""
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": slack.state.next_ts(),
        "channel_type": channel_type,
    }
    if thread:
        event["thread_ts"] = thread
    slack.state.messages.setdefault(channel, []).append(dict(event))
    return event


def mention(
    slack: SlackStandIn, channel: str, user: str, text: str, thread: str | None = None
) -> dict[str, Any]:
    event = user_message(slack, channel, user, f"<@{BOT_USER}> {text}", thread)
    event["type"] = "app_mention"
    del event["channel_type"]
    return event


def answer_update(slack: SlackStandIn, channel: str, placeholder_ts: str) -> dict[str, Any]:
    return wait_for(
        lambda: next(
            (
                c.args
                for c in slack.state.calls_to("chat.update")
                if c.args["channel"] == channel and c.args["ts"] == placeholder_ts
            ),
            None,
        )
    )


def placeholder_for(slack: SlackStandIn, channel: str, thread: str | None) -> dict[str, Any]:
    """The bot's first message in `thread` (None: at the top of a DM), once posted."""
    return wait_for(
        lambda: next(
            (
                m
                for m in list(slack.state.messages.get(channel, []))
                if m.get("bot_id") == BOT_ID and m.get("thread_ts") == thread
            ),
            None,
        )
    )


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_a_mention_gets_a_placeholder_then_a_cited_answer_in_its_thread(bot, slack):
    event = mention(slack, GENERAL, BOB, "How many vacation days do I get?")
    acked = send_event(bot, event)
    assert acked.status_code == 200

    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    first_post = next(
        c.args
        for c in slack.state.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == event["ts"]
    )
    assert "Searching" in first_post["text"]
    update = answer_update(slack, GENERAL, placeholder["ts"])
    shown = text_of(update["blocks"])
    assert "28 days" in shown and "[1]" in shown
    assert "vacation.md|" in shown  # a numbered citation linking to the source
    assert re.search(r"\\n_updated [a-z0-9 ,]+ ago_", shown)  # when the source last changed
    assert all(len(b["text"]["text"]) <= 3000 for b in update["blocks"] if b["type"] == "section")
    assert len(update["blocks"]) <= 50


def test_a_direct_message_is_answered_with_the_askers_own_permissions(bot, slack):
    event = user_message(slack, ALICE_DM, ALICE, SALARY_QUESTION, channel_type="im")
    send_event(bot, event)
    placeholder = placeholder_for(slack, ALICE_DM, None)
    shown = text_of(answer_update(slack, ALICE_DM, placeholder["ts"])["blocks"])
    assert "85,000" in shown and "salaries.md" in shown  # Alice is in hr


def test_a_restricted_page_never_reaches_a_channel_where_someone_may_not_read_it(bot, slack):
    event = mention(slack, GENERAL, ALICE, SALARY_QUESTION)  # Bob is in #general too
    send_event(bot, event)
    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    shown = text_of(answer_update(slack, GENERAL, placeholder["ts"])["blocks"])
    assert "85,000" not in shown and "salaries.md" not in shown

    event = mention(slack, HR_CHANNEL, ALICE, SALARY_QUESTION)  # only Alice (hr) and the bot
    send_event(bot, event)
    placeholder = placeholder_for(slack, HR_CHANNEL, event["ts"])
    assert "salaries.md" in text_of(answer_update(slack, HR_CHANNEL, placeholder["ts"])["blocks"])

    # Bob joins the HR channel: from then on the page stays out of it.
    slack.state.channels[HR_CHANNEL].append(BOB)
    send_event(
        bot,
        {
            "type": "member_joined_channel",
            "user": BOB,
            "channel": HR_CHANNEL,
            "channel_type": "C",
            "team": "T0TEST",
            "event_ts": str(time.time()),
        },
    )
    time.sleep(0.5)
    event = mention(slack, HR_CHANNEL, ALICE, SALARY_QUESTION)
    send_event(bot, event)
    placeholder = placeholder_for(slack, HR_CHANNEL, event["ts"])
    shown = text_of(answer_update(slack, HR_CHANNEL, placeholder["ts"])["blocks"])
    assert "salaries.md" not in shown and "85,000" not in shown


def ephemerals_to(slack: SlackStandIn, user: str, since: int) -> list[dict[str, Any]]:
    return [
        c.args for c in slack.state.calls_to("chat.postEphemeral")[since:] if c.args["user"] == user
    ]


def test_the_asker_alone_gets_more_from_sources_only_they_can_see(bot, slack, answer_log):
    ephemerals = len(slack.state.calls_to("chat.postEphemeral"))
    event = mention(slack, GENERAL, ALICE, SALARY_QUESTION)  # Bob may not read salaries.md
    send_event(bot, event)
    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    channel_answer = answer_update(slack, GENERAL, placeholder["ts"])
    assert "85,000" not in text_of(channel_answer["blocks"])
    assert "more_answer" not in text_of(channel_answer["blocks"])  # the channel sees no offer

    offer = wait_for(lambda: ephemerals_to(slack, ALICE, ephemerals))[-1]
    assert offer["thread_ts"] == event["ts"] and "salar" not in text_of(offer["blocks"]).lower()
    answer_id = button_value(offer["blocks"], "more_answer")
    assert answer_id == answer_id_of(channel_answer["blocks"])

    # Bob cannot open it (a forged click): he is told so and sees nothing of the page.
    send_form(bot, action_body("more_answer", answer_id, BOB, GENERAL, placeholder["ts"]))
    refused = wait_for(lambda: ephemerals_to(slack, BOB, ephemerals))[-1]
    assert "Only the person who asked" in refused["text"] and "85,000" not in json.dumps(refused)

    send_form(bot, action_body("more_answer", answer_id, ALICE, GENERAL, placeholder["ts"]))
    private = wait_for(
        lambda: [
            e
            for e in ephemerals_to(slack, ALICE, ephemerals)
            if e.get("blocks") and "85,000" in text_of(e["blocks"])
        ]
    )[-1]
    assert private["channel"] == GENERAL and private["thread_ts"] == event["ts"]
    assert "share_answer" not in text_of(private["blocks"])
    private_id = answer_id_of(private["blocks"])
    stored = answer_log.get(private_id)
    assert stored is not None and stored.asker == ALICE and stored.conversation == GENERAL

    # Nothing restricted reached the channel: not its messages, their edits, or the thread.
    for method in ("chat.postMessage", "chat.update"):
        for call in slack.state.calls_to(method):
            if call.args["channel"] == GENERAL:
                assert "85,000" not in json.dumps(call.args)
    assert all("85,000" not in m.get("text", "") for m in slack.state.messages[GENERAL])

    # Bob asking the same sees no offer: he may not read more than the channel.
    before_bob = len(slack.state.calls_to("chat.postEphemeral"))
    event = mention(slack, GENERAL, BOB, SALARY_QUESTION)
    send_event(bot, event)
    answer_update(slack, GENERAL, placeholder_for(slack, GENERAL, event["ts"])["ts"])
    time.sleep(1)
    assert not [e for e in ephemerals_to(slack, BOB, before_bob) if e.get("blocks")]


def test_a_follow_up_in_an_answered_thread_needs_no_mention(bot, slack):
    first = mention(slack, GENERAL, BOB, "How many days of paid vacation do employees get?")
    send_event(bot, first)
    answer_update(slack, GENERAL, placeholder_for(slack, GENERAL, first["ts"])["ts"])

    replies_read = len(slack.state.calls_to("conversations.replies"))
    follow_up = user_message(slack, GENERAL, BOB, "and how do I request them?", first["ts"])
    send_event(bot, follow_up)
    updates = wait_for(
        lambda: [
            c.args
            for c in slack.state.calls_to("chat.update")
            if c.args["channel"] == GENERAL and "HR system" in text_of(c.args.get("blocks", []))
        ]
    )
    assert updates
    # The thread's history came from the answer log: Slack was not asked for it again.
    assert len(slack.state.calls_to("conversations.replies")) == replies_read

    # "thanks!" in the thread is not a question: nothing is posted for it.
    posted = len(slack.state.calls_to("chat.postMessage"))
    send_event(bot, user_message(slack, GENERAL, BOB, "thanks!", first["ts"]))
    time.sleep(1)
    assert len(slack.state.calls_to("chat.postMessage")) == posted

    unanswered = user_message(slack, GENERAL, BOB, "lunch?", thread="1.000001")
    send_event(bot, unanswered)
    time.sleep(1)
    assert not [
        c for c in slack.state.calls_to("chat.postMessage") if c.args.get("thread_ts") == "1.000001"
    ]


def test_the_slash_command_answers_privately_and_can_share_to_the_channel(bot, slack):
    acked = send_form(
        bot, command_body(SALARY_QUESTION, ALICE, GENERAL, response_url=slack.response_url)
    )
    assert acked.status_code == 200 and "Searching" in acked.text

    private = wait_for(
        lambda: next(
            (
                c.args
                for c in slack.state.calls_to("response_url")
                if "share_answer" in text_of(c.args.get("blocks", []))
            ),
            None,
        )
    )
    assert "85,000" in text_of(private["blocks"])  # Alice's own permissions
    assert private["response_type"] == "ephemeral"
    answer_id = button_value(private["blocks"], "share_answer")
    # Sharing the HR answer into #general (Bob may not read it) is refused.
    before = len(slack.state.calls_to("chat.postMessage"))
    send_form(bot, action_body("share_answer", answer_id, ALICE, GENERAL, "9.0"))
    wait_for(
        lambda: any(
            "can't share" in c.args.get("text", "")
            for c in slack.state.calls_to("chat.postEphemeral")
        )
    )
    assert len(slack.state.calls_to("chat.postMessage")) == before

    acked = send_form(
        bot,
        command_body("How do I connect to the VPN?", BOB, GENERAL, response_url=slack.response_url),
    )
    public = wait_for(
        lambda: next(
            (
                c.args
                for c in slack.state.calls_to("response_url")
                if "vpn.md" in text_of(c.args.get("blocks", []))
            ),
            None,
        )
    )
    vpn_answer = button_value(public["blocks"], "share_answer")
    send_form(bot, action_body("share_answer", vpn_answer, BOB, GENERAL, "9.1"))
    shared = wait_for(
        lambda: next(
            (
                c.args
                for c in slack.state.calls_to("chat.postMessage")
                if "vpn.md" in text_of(c.args.get("blocks", [])) and not c.args.get("thread_ts")
            ),
            None,
        )
    )
    assert "share_answer" not in text_of(shared["blocks"])


def button_value(blocks: list[dict[str, Any]], action_id: str) -> str:
    """The value of the answer's button `action_id` (the answer id)."""
    return next(
        e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def answer_id_of(blocks: list[dict[str, Any]]) -> str:
    """The answer id behind an answer's feedback buttons (values "<answer id>:up|down")."""
    buttons = next(
        e
        for b in blocks
        if b["type"] == "context_actions"
        for e in b["elements"]
        if e["type"] == "feedback_buttons"
    )
    return str(buttons["positive_button"]["value"]).removesuffix(":up")


def vote(kind: str, answer_id: str, user: str, channel: str, ts: str) -> str:
    """A press on the answer's 👍 (`up`) or 👎 (`down`), Slack's feedback buttons."""
    value = f"{answer_id}:{kind}"
    return action_body("answer_feedback", value, user, channel, ts, element="feedback_buttons")


def answered_message(
    slack: SlackStandIn, bot: str, question: str, channel: str = GENERAL
) -> tuple[str, str]:
    event = mention(slack, channel, BOB, question)
    send_event(bot, event)
    placeholder = placeholder_for(slack, channel, event["ts"])
    update = answer_update(slack, channel, placeholder["ts"])
    answer_id = answer_id_of(update["blocks"])
    return placeholder["ts"], answer_id


def reaction(kind: str, name: str, user: str, ts: str, channel: str = GENERAL) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": BOT_USER,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": str(time.time()),
    }


def test_thumbs_reactions_in_both_spellings_become_pairs_and_removal_withdraws(
    bot, slack, answer_log
):
    ts, answer_id = answered_message(slack, bot, "Who do I tell when my laptop is stolen?")

    def votes() -> set[tuple[str, int]]:
        return {(p.user, p.label) for p in answer_log.pairs() if p.answer_id == answer_id}

    send_event(bot, reaction("reaction_added", "+1", "U1", ts))
    send_event(bot, reaction("reaction_added", "thumbsup", "U2", ts))
    send_event(bot, reaction("reaction_added", "-1", "U3", ts))
    send_event(bot, reaction("reaction_added", "thumbsdown::skin-tone-3", "U4", ts))
    send_event(bot, reaction("reaction_added", "tada", "U5", ts))
    wanted = {("U1", 1), ("U2", 1), ("U3", -1), ("U4", -1)}
    wait_for(lambda: votes() == wanted)
    pairs = [p for p in answer_log.pairs() if p.answer_id == answer_id]
    assert all(p.query == "Who do I tell when my laptop is stolen?" and p.passage for p in pairs)

    send_event(bot, reaction("reaction_removed", "-1", "U3", ts))
    wait_for(lambda: votes() == wanted - {("U3", -1)})


def test_operators_see_answers_and_votes_in_metrics_without_questions_or_people(
    bot, slack, answer_log
):
    before = scrape(f"{bot}/metrics")
    question = "Which printer model does the third floor use?"
    ts, answer_id = answered_message(slack, bot, question)
    send_event(bot, reaction("reaction_added", "+1", "UMETRICS1", ts))
    send_event(bot, reaction("reaction_added", "-1", "UMETRICS2", ts))
    wait_for(lambda: len([p for p in answer_log.pairs() if p.answer_id == answer_id]) >= 2)

    body = httpx.get(f"{bot}/metrics", timeout=10).text
    after = scrape(f"{bot}/metrics")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("knowhere_answer_seconds_count", surface="slack", generator="extractive") == 1
    assert grew("knowhere_answer_outcomes_total", surface="slack", outcome="found") == 1
    assert grew("knowhere_answer_outcomes_total", surface="slack", outcome="up") == 1
    assert grew("knowhere_answer_outcomes_total", surface="slack", outcome="down") == 1
    # Labels name surfaces and outcomes: no question, no person, no channel.
    for private in (question, "printer", "UMETRICS1", BOB, GENERAL, "northwind.example"):
        assert private not in body


def test_still_need_help_hands_the_answer_to_people_once_signed_and_recorded(
    bot, slack, answer_log, ticket_system
):
    question = "Who do I call when the office printer is jammed?"
    ts, answer_id = answered_message(slack, bot, question)
    update = answer_update(slack, GENERAL, ts)
    buttons = [
        e["action_id"] for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert "escalate" in buttons

    send_form(bot, action_body("escalate", answer_id, BOB, GENERAL, ts))
    posted = wait_for(
        lambda: [
            c.args for c in slack.state.calls_to("chat.postMessage") if c.args["channel"] == SUPPORT
        ]
    )
    assert question in posted[-1]["text"] and f"<@{BOB}>" in posted[-1]["text"]
    assert posted[-1]["text"].startswith("<!subteam^SSUPPORT> ")  # the support team is told
    assert "Knowhere answered" in posted[-1]["text"]  # the support channel may read its sources
    headers, body = wait_for(lambda: ticket_system.received and ticket_system.received[-1])
    assert verify_signature(WEBHOOK_SECRET.encode(), body, headers, time.time())
    assert not verify_signature(b"a guess", body, headers, time.time())
    ticket = json.loads(body)
    assert ticket["type"] == "knowhere.escalation" and ticket["answer_id"] == answer_id
    assert ticket["question"] == question and ticket["escalated_by"] == BOB
    assert ticket["sources"] and all(s["url"] and s["title"] for s in ticket["sources"])
    told = wait_for(
        lambda: [
            c.args
            for c in slack.state.calls_to("chat.postEphemeral")
            if c.args["user"] == BOB and "handed your question" in c.args["text"]
        ]
    )
    assert f"<#{SUPPORT}>" in told[-1]["text"]

    # Pressed again, or 🎫 by the same person: told it is in hand, not sent twice.
    send_event(bot, reaction("reaction_added", "ticket", BOB, ts))
    wait_for(
        lambda: [
            c
            for c in slack.state.calls_to("chat.postEphemeral")
            if c.args["user"] == BOB and "already asked" in c.args["text"]
        ]
    )
    # 🎫 from someone else escalates it for them.
    send_event(bot, reaction("reaction_added", "ticket", ALICE, ts))
    wait_for(lambda: len(ticket_system.received) >= 2 and ticket_system.received[-1])
    assert json.loads(ticket_system.received[-1][1])["via"] == "reaction"
    assert sum(json.loads(b)["answer_id"] == answer_id for _, b in ticket_system.received) == 2
    metrics = scrape(f"{bot}/metrics")
    assert (
        value(metrics, "knowhere_answer_outcomes_total", surface="slack", outcome="escalated") >= 2
    )
    flagged = {a.answer_id: a for a in answer_log.asked_since(utc_now() - timedelta(hours=1), 0.0)}
    assert flagged[answer_id].escalated


def test_an_escalated_private_answer_reaches_the_support_channel_without_its_sources(
    bot, slack, answer_log, ticket_system
):
    before = len(slack.state.messages.get(ALICE_DM, []))
    send_event(bot, user_message(slack, ALICE_DM, ALICE, SALARY_QUESTION, channel_type="im"))
    placeholder = wait_for(
        lambda: next(
            (
                m
                for m in slack.state.messages.get(ALICE_DM, [])[before:]
                if m.get("bot_id") == BOT_ID
            ),
            None,
        )
    )
    update = answer_update(slack, ALICE_DM, placeholder["ts"])
    assert "85,000" in text_of(update["blocks"])  # Alice's own answer: she is in hr
    answer_id = button_value(update["blocks"], "escalate")
    tickets = len(ticket_system.received)
    send_form(bot, action_body("escalate", answer_id, ALICE, ALICE_DM, placeholder["ts"]))
    posted = wait_for(
        lambda: [
            c.args["text"]
            for c in slack.state.calls_to("chat.postMessage")
            if c.args["channel"] == SUPPORT and SALARY_QUESTION in c.args["text"]
        ]
    )
    assert "85,000" not in posted[-1] and "salaries" not in posted[-1].lower()
    assert "not shown here" in posted[-1]
    # The ticket system keeps its own permissions: it gets the whole answer.
    wait_for(lambda: len(ticket_system.received) > tickets)
    assert "85,000" in json.loads(ticket_system.received[-1][1])["answer"]


def test_the_outcomes_report_counts_each_answer_once_and_no_signal_never_as_resolved(
    bot, bot_settings, slack, answer_log, ticket_system
):
    questions = [
        "How many vacation days do I get?",
        "How do I connect to the VPN?",
        "Who do I tell when my laptop is stolen?",
        "What is the office printer called?",
        "How do I submit an expense report?",
    ]
    answered = [answered_message(slack, bot, q, PROJECTS) for q in questions]
    (liked, _), (disliked, disliked_id), (escalated, escalated_id), (withdrawn, _), _ = answered
    send_event(bot, reaction("reaction_added", "+1", ALICE, liked, PROJECTS))
    send_form(bot, vote("down", disliked_id, ALICE, PROJECTS, disliked))
    send_event(bot, reaction("reaction_added", "+1", ALICE, escalated, PROJECTS))
    send_form(bot, action_body("escalate", escalated_id, BOB, PROJECTS, escalated))
    send_event(bot, reaction("reaction_added", "+1", ALICE, withdrawn, PROJECTS))
    send_event(bot, reaction("reaction_removed", "+1", ALICE, withdrawn, PROJECTS))
    # A 👍 on one source says that source helped, not that the answer did.
    send_form(bot, overflow_body("source_vote", f"{disliked_id}:1:up", BOB, PROJECTS, disliked))
    wait_for(lambda: answer_log.escalated_by(escalated_id, BOB))

    def channel_row() -> dict[str, Any] | None:
        done = knowhere(bot_env(bot_settings), "report", "outcomes", "--since", "1h", "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        row = next(r for r in report["channels"] if r["group"] == f"slack:{PROJECTS}")
        wanted = {"helpful": 1, "not_helpful": 1, "escalated": 1, "verified": 0, "no_signal": 2}
        return row if row["counts"] == wanted else None

    row = wait_for(channel_row, timeout=60, interval=1)
    assert row["answers"] == 5 and row["shares"]["no_signal"] == 0.4
    table = knowhere(bot_env(bot_settings), "report", "outcomes", "--since", "1h")
    assert table.returncode == 0 and f"slack:{PROJECTS}" in table.stdout
    assert "no signal is never counted as resolved" in table.stdout
    csv_lines = knowhere(bot_env(bot_settings), "report", "outcomes", "--csv").stdout.splitlines()
    header = "by,group,answers,helpful,not_helpful,escalated,verified,no_signal"
    assert csv_lines[0].startswith(header)
    assert any(line.startswith(f"channel,slack:{PROJECTS},5,1,1,1,0,2,") for line in csv_lines)


def asked_in(slack: SlackStandIn, bot: str, channel: str, user: str, question: str) -> list[dict]:
    """The blocks of the answer to `question`, asked by `user` in `channel` (a DM or not)."""
    if channel == ALICE_DM:
        event = user_message(slack, channel, user, question, channel_type="im")
        thread = None
    else:
        event = mention(slack, channel, user, question)
        thread = event["ts"]
    before = len(slack.state.messages.get(channel, []))
    send_event(bot, event)
    placeholder = wait_for(
        lambda: next(
            (
                m
                for m in slack.state.messages.get(channel, [])[before:]
                if m.get("bot_id") == BOT_ID and m.get("thread_ts") == thread
            ),
            None,
        )
    )
    return answer_update(slack, channel, placeholder["ts"])["blocks"]


def verified_header(blocks: list[dict[str, Any]]) -> str | None:
    """The verified answer a message starts with (who verified it, when, then its text in a
    markdown block); None when it starts with the usual answer."""
    first = blocks[0]["text"]
    if not isinstance(first, dict) or not first["text"].startswith(":white_check_mark: *Verified"):
        return None
    assert blocks[1]["type"] == "markdown"
    return f"{first['text']}\n{blocks[1]['text']}"


def verify(
    bot: str, slack: SlackStandIn, expert: str, channel: str, blocks: list, text=None
) -> None:
    """`expert` presses *Verify* and confirms the modal (with `text`, else as it is)."""
    opened = len(slack.state.calls_to("views.open"))
    answer_id = button_value(blocks, "verify_answer")
    send_form(bot, action_body("verify_answer", answer_id, expert, channel, "1.0"))
    view = wait_for(lambda: slack.state.calls_to("views.open")[opened:])[-1].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    initial = view["blocks"][0]["element"]["initial_value"]
    submitted = {"answer": {"text": initial if text is None else text}}
    assert send_form(bot, view_submission_body(view, expert, submitted)).status_code == 200


def test_an_expert_verifies_an_answer_and_questions_that_mean_the_same_get_it_first(
    bot, slack, answer_log
):
    blocks = asked_in(slack, bot, GENERAL, BOB, "How do I connect to the VPN?")
    assert verified_header(blocks) is None
    ephemerals = len(slack.state.calls_to("chat.postEphemeral"))
    opened = len(slack.state.calls_to("views.open"))
    send_form(
        bot,
        action_body("verify_answer", button_value(blocks, "verify_answer"), BOB, GENERAL, "1.0"),
    )
    refused = wait_for(lambda: ephemerals_to(slack, BOB, ephemerals))[-1]
    assert "Only members of the experts group" in refused["text"]
    assert len(slack.state.calls_to("views.open")) == opened  # Bob never saw the form

    edited = "Install WireGuard, import the profile from the IT portal and connect."
    verify(bot, slack, CAROL, GENERAL, blocks, edited)
    told = wait_for(lambda: ephemerals_to(slack, CAROL, ephemerals))[-1]
    assert told["text"].startswith("Verified.")

    # Asked again in other words: the verified answer first, then the usual one.
    again = asked_in(slack, bot, GENERAL, BOB, "how can I connect to the VPN?")
    header = verified_header(again)
    assert header and f"Verified by Carol Jones on {utc_now():%Y-%m-%d}" in header
    assert edited in header and "vpn.md|" in text_of(again)
    assert any(b["type"] == "divider" for b in again)
    # The same topic, another question (it shares "VPN", not the meaning): no verified answer.
    assert (
        verified_header(asked_in(slack, bot, GENERAL, BOB, "How often do VPN keys rotate?")) is None
    )

    # Bob may not withdraw it; Carol may, and then the usual answer alone comes back.
    verified_id = button_value(again, "withdraw_verified")
    send_form(bot, action_body("withdraw_verified", verified_id, BOB, GENERAL, "1.0"))
    wait_for(
        lambda: [e for e in ephemerals_to(slack, BOB, ephemerals) if "Only members" in e["text"]][
            1:
        ]
    )
    assert verified_header(asked_in(slack, bot, GENERAL, BOB, "how can I connect to the VPN?"))
    send_form(bot, action_body("withdraw_verified", verified_id, CAROL, GENERAL, "1.0"))
    wait_for(
        lambda: [e for e in ephemerals_to(slack, CAROL, ephemerals) if "Withdrawn" in e["text"]]
    )
    assert (
        verified_header(asked_in(slack, bot, GENERAL, BOB, "how can I connect to the VPN?")) is None
    )


def test_a_verified_answer_from_a_restricted_page_reaches_only_those_who_may_read_it(bot, slack):
    blocks = asked_in(slack, bot, ALICE_DM, ALICE, SALARY_QUESTION)  # Alice: hr and an expert
    assert "85,000" in text_of(blocks)
    ephemerals = len(slack.state.calls_to("chat.postEphemeral"))
    verify(bot, slack, ALICE, ALICE_DM, blocks)
    wait_for(lambda: ephemerals_to(slack, ALICE, ephemerals))
    paraphrase = "What is the salary range for software engineers?"

    in_general = asked_in(slack, bot, GENERAL, BOB, paraphrase)  # Bob and Carol: not in hr
    assert verified_header(in_general) is None and "85,000" not in text_of(in_general)
    in_private = asked_in(slack, bot, ALICE_DM, ALICE, paraphrase)
    header = verified_header(in_private)
    assert header and "85,000" in header


def assistant_thread_started(slack: SlackStandIn, user: str, dm: str) -> dict[str, Any]:
    """What Slack sends when `user` opens a new thread in the app's AI pane."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {},
            "channel_id": dm,
            "thread_ts": slack.state.next_ts(),
        },
        "event_ts": str(time.time()),
    }


def assistant_calls(slack: SlackStandIn, method: str, thread: str) -> list[dict[str, Any]]:
    calls = slack.state.calls_to(f"assistant.threads.{method}")
    return [c.args for c in calls if c.args.get("thread_ts") == thread]


def test_in_the_ai_app_pane_a_thread_suggests_what_experts_answered_and_shows_a_status(bot, slack):
    # Alice (in hr, an expert) verifies the salary answer: only hr may read its source.
    blocks = asked_in(slack, bot, ALICE_DM, ALICE, SALARY_QUESTION)
    verify(bot, slack, ALICE, ALICE_DM, blocks)
    started = {}
    for user, dm in ((ALICE, ALICE_DM), (BOB, "DBOB")):
        started[user] = assistant_thread_started(slack, user, dm)
        send_event(bot, started[user])

    def prompts(user: str) -> list[str]:
        thread = started[user]["assistant_thread"]["thread_ts"]
        calls = wait_for(lambda: assistant_calls(slack, "setSuggestedPrompts", thread))
        return [p["message"] for p in json_arg(calls[-1]["prompts"])]

    assert SALARY_QUESTION in prompts(ALICE)  # a question with an expert's answer she may read
    assert SALARY_QUESTION not in prompts(BOB)  # a question can tell: never offered to Bob
    assert prompts(BOB)  # he gets the verified ones he may read, else the configured ones
    thread = started[BOB]["assistant_thread"]["thread_ts"]
    greeting = placeholder_for(slack, "DBOB", thread)
    assert "knowledge base" in greeting["text"]

    # Bob asks in the thread: a title, a status while searching, then the answer in its place.
    event = user_message(
        slack, "DBOB", BOB, "How do I connect to the VPN?", thread=thread, channel_type="im"
    )
    send_event(bot, event)
    answer = wait_for(
        lambda: [
            c.args
            for c in slack.state.calls_to("chat.postMessage")
            if c.args.get("thread_ts") == thread and c.args.get("blocks")
        ]
    )[-1]
    assert "vpn.md" in text_of(json_arg(answer["blocks"]))
    assert [c["status"] for c in assistant_calls(slack, "setStatus", thread)] == [
        "is searching the knowledge base…"
    ]
    assert [c["title"] for c in assistant_calls(slack, "setTitle", thread)] == [
        "How do I connect to the VPN?"
    ]
    # No "Searching…" placeholder: the status stands in for it.
    posted = [m["text"] for m in slack.state.messages["DBOB"] if m.get("thread_ts") == thread]
    assert not any("Searching" in text for text in posted)


def test_without_the_ai_app_feature_a_threaded_direct_message_gets_a_placeholder(bot, slack):
    slack.state.ai_app = False  # assistant.threads.* are refused
    try:
        first = user_message(slack, ALICE_DM, ALICE, "How do I connect to the VPN?", None, "im")
        event = user_message(
            slack, ALICE_DM, ALICE, "How often do VPN keys rotate?", first["ts"], "im"
        )
        send_event(bot, event)
        placeholder = placeholder_for(slack, ALICE_DM, first["ts"])
        posted = [c.args for c in slack.state.calls_to("chat.postMessage")]
        assert {"channel": ALICE_DM, "thread_ts": first["ts"]}.items() <= posted[-1].items()
        assert posted[-1]["text"].startswith(":mag: Searching")
        assert "vpn" in text_of(answer_update(slack, ALICE_DM, placeholder["ts"])["blocks"])
    finally:
        slack.state.ai_app = True


def json_arg(value: Any) -> Any:
    """A Web API argument as sent: JSON text in a form post, else as it is."""
    return json.loads(value) if isinstance(value, str) else value


def test_feedback_buttons_store_a_vote_and_pressing_again_takes_it_back(bot, slack, answer_log):
    ts, answer_id = answered_message(slack, bot, "How do I connect to the VPN?")

    def votes() -> set[tuple[str, int]]:
        return {(p.user, p.label) for p in answer_log.pairs() if p.answer_id == answer_id}

    send_form(bot, vote("down", answer_id, ALICE, GENERAL, ts))
    wait_for(lambda: votes() == {(ALICE, -1)})
    send_form(bot, vote("up", answer_id, ALICE, GENERAL, ts))
    wait_for(lambda: votes() == {(ALICE, 1)})
    send_form(bot, vote("up", answer_id, ALICE, GENERAL, ts))
    wait_for(lambda: votes() == set())


def test_a_vote_on_one_source_labels_only_that_passage(bot, slack, answer_log):
    ts, answer_id = answered_message(slack, bot, "How do I connect to the VPN?")
    update = answer_update(slack, GENERAL, ts)
    menus = [
        b["accessory"]
        for b in update["blocks"]
        if b.get("accessory", {}).get("action_id") == "source_vote"
    ]
    assert menus and all(len(m["options"]) == 2 for m in menus)
    down = menus[0]["options"][1]["value"]

    def votes() -> set[tuple[str, int, str]]:
        return {(p.user, p.label, p.via) for p in answer_log.pairs() if p.answer_id == answer_id}

    send_form(bot, vote("up", answer_id, ALICE, GENERAL, ts))
    send_form(bot, overflow_body("source_vote", down, ALICE, GENERAL, ts))
    wait_for(lambda: (ALICE, -1, "source") in votes())
    pairs = [p for p in answer_log.pairs() if p.answer_id == answer_id]
    first = [p for p in pairs if p.via == "source"]
    assert len(first) == 1 and first[0].label == -1  # the answer's 👍 no longer covers it
    assert all(p.chunk_id != first[0].chunk_id for p in pairs if p.via == "button")
    send_form(bot, overflow_body("source_vote", down, ALICE, GENERAL, ts))  # again: taken back
    wait_for(lambda: (ALICE, -1, "source") not in votes())


def test_forged_or_stale_requests_are_rejected_and_nothing_is_posted(bot, slack):
    before = len(slack.state.calls)
    forged = send_event(
        bot, mention(slack, GENERAL, BOB, "How do I reset my password?"), secret="not-the-secret"
    )
    stale = send_event(
        bot,
        mention(slack, GENERAL, BOB, "How do I reset my password?"),
        timestamp=int(time.time()) - 6 * 60,
    )
    assert forged.status_code == 401 and stale.status_code == 401
    time.sleep(1)
    assert len(slack.state.calls) == before


def test_a_retried_event_is_answered_once(bot, slack):
    event = mention(slack, GENERAL, BOB, "What happens to unused vacation days?")
    event_id = f"Ev{uuid.uuid4().hex[:10]}"
    assert send_event(bot, event, event_id).status_code == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(bot, event, event_id, headers=retry).status_code == 200
    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    answer_update(slack, GENERAL, placeholder["ts"])
    time.sleep(1)
    posted = [
        c
        for c in slack.state.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == event["ts"]
    ]
    assert len(posted) == 1


def test_a_rate_limited_call_is_retried_after_retry_after(bot, slack):
    slack.state.rate_limited["chat.update"] = 1
    event = mention(slack, GENERAL, BOB, "How do I expense a train ticket?")
    send_event(bot, event)
    placeholder = placeholder_for(slack, GENERAL, event["ts"])

    def updates() -> list:
        return [c for c in slack.state.calls_to("chat.update") if c.args["ts"] == placeholder["ts"]]

    first, retried = wait_for(lambda: updates() if len(updates()) >= 2 else None)  # 429, retry
    assert "receipts" in retried.args["text"]
    assert retried.at - first.at >= 0.9  # waited for Retry-After: 1
    time.sleep(1)
    assert len(updates()) == 2


def test_instructions_inside_a_document_never_produce_a_mention(bot, slack):
    event = mention(slack, GENERAL, BOB, "What is the office printer called?")
    send_event(bot, event)
    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    update = answer_update(slack, GENERAL, placeholder["ts"])
    shown = update["text"] + text_of(update["blocks"])
    assert "Orion" in shown
    for mention_text in (
        "@channel",
        "@here",
        "@everyone",
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U0ADMIN>",
    ):
        assert mention_text not in shown


def test_an_answer_is_a_markdown_block_whose_code_keeps_its_lines(bot, slack):
    event = mention(slack, GENERAL, BOB, "How do I restart the build agent when it hangs?")
    send_event(bot, event)
    placeholder = placeholder_for(slack, GENERAL, event["ts"])
    update = answer_update(slack, GENERAL, placeholder["ts"])
    markdown = [b["text"] for b in update["blocks"] if b["type"] == "markdown"]
    assert len(markdown) == 1
    code = "```sh\nsudo systemctl restart build-agent\njournalctl -u build-agent"
    assert code in markdown[0]  # the command on its own lines, as the page has it
    assert "restart the build agent from a terminal: [" in markdown[0]  # and its sentence
    assert "#" not in markdown[0] and "Restarting a hung agent" not in markdown[0]
    assert "```" not in update["text"] and "sudo systemctl restart build-agent" in update["text"]


def test_the_slash_command_answers_in_a_channel_the_bot_was_never_invited_to(bot, slack):
    answers = len(slack.state.calls_to("response_url"))
    body = command_body(
        "How do I connect to the VPN?", BOB, "CELSEWHERE", response_url=slack.response_url
    )
    assert send_form(bot, body).status_code == 200
    answer = wait_for(lambda: slack.state.calls_to("response_url")[answers:])[-1].args
    assert answer["response_type"] == "ephemeral" and "vpn.md" in text_of(answer["blocks"])


def test_the_app_manifest_subscribes_to_what_the_bot_handles_with_the_scopes_it_needs():
    import yaml

    manifest = yaml.safe_load((REPO / "deploy" / "slack" / "manifest.yml").read_text())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {
        "app_mention",
        "message.im",
        "message.channels",
        "reaction_added",
        "reaction_removed",
        "assistant_thread_started",
    } <= events
    assert manifest["features"]["assistant_view"]["assistant_description"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "chat:write",
        "commands",
        "users:read.email",
        "reactions:read",
        "channels:read",
        "app_mentions:read",
        "assistant:write",
    } <= scopes
    assert manifest["features"]["slash_commands"][0]["command"] == Settings().slack_command
    assert manifest["settings"]["interactivity"]["is_enabled"]


def test_starting_without_slack_credentials_names_the_missing_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWHERE_")}
    env["KNOWHERE_HOME"] = str(tmp_path)
    http = subprocess.run(
        [sys.executable, "-m", "bot.cli", "slack"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert http.returncode == 1
    assert "KNOWHERE_SLACK_BOT_TOKEN is not set" in http.stderr
    assert "Traceback" not in http.stderr

    env["KNOWHERE_SLACK_BOT_TOKEN"] = "xoxb-secret-value"
    socket = subprocess.run(
        [sys.executable, "-m", "bot.cli", "slack", "--socket"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert socket.returncode == 1
    assert "KNOWHERE_SLACK_APP_TOKEN is not set" in socket.stderr
    assert "xoxb-secret-value" not in socket.stderr + socket.stdout
