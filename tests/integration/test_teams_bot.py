"""The Teams bot end to end over HTTP: signed activities in, connector calls out (a stand-in)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from processes import bot_env, running_bot, wait_for
from standins.teams_standin import APP_ID, TeamsStandIn, activity
from standins.ticket_system import TicketSystem

from indexing import AnswerLog, Settings, jobs, verify_signature
from indexing.infra.local_services import free_port

SALARY_QUESTION = "What is the salary band for software engineers?"
ALICE_CHAT, GENERAL = "a:1alice-personal-chat", "19:general@thread.tacv2"
TEAM = "19:team-northwind@thread.tacv2"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HR_TEAM, HR_CHANNEL = "19:team-hr@thread.tacv2", "19:hr-general@thread.tacv2"
SHARED_CHANNEL = "19:hr-with-contoso@thread.tacv2"
SUPPORT_CHANNEL = "19:support@thread.tacv2"  # where *Still need help* goes
WEBHOOK_SECRET = "teams-webhook-secret-9a7e"


@pytest.fixture(scope="module")
def teams() -> Iterator[TeamsStandIn]:
    standin = TeamsStandIn()
    state = standin.state
    state.add_member("29:alice", "Alice", "alice@northwind.example")  # in hr
    state.add_member("29:bob", "Bob", "bob@northwind.example")
    state.add_member("29:carol", "Carol", "carol@northwind.example")
    state.add_member("29:dave", "Dave (Contoso)", "dave@contoso.example")  # another tenant
    state.rosters[TEAM] = ["29:alice", "29:bob", "29:carol"]
    state.rosters[GENERAL] = ["29:alice", "29:bob", "29:carol"]
    state.rosters[HR_TEAM] = ["29:alice"]
    state.rosters[HR_CHANNEL] = ["29:alice"]
    # A channel of the HR team shared with another organisation: its members are not the
    # team's roster.
    state.rosters[SHARED_CHANNEL] = ["29:alice", "29:dave"]
    state.rosters[SUPPORT_CHANNEL] = ["29:bob", "29:carol"]  # the support team: not in hr
    yield standin
    standin.close()


@pytest.fixture(scope="module")
def ticket_system() -> Iterator[TicketSystem]:
    with TicketSystem() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def bot(
    company_settings: Settings, teams: TeamsStandIn, ticket_system: TicketSystem
) -> Iterator[str]:
    """The bot in local-development mode (anonymous explicitly allowed, as with an emulator)."""
    env = bot_env(
        company_settings,
        KNOWHERE_TEAMS_ANONYMOUS="true",
        KNOWHERE_ESCALATION_TEAMS_CHANNEL=SUPPORT_CHANNEL,
        KNOWHERE_ESCALATION_WEBHOOK_URL=ticket_system.url,
        KNOWHERE_ESCALATION_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # The module asks Bob dozens of questions a minute: no rate limit here (see
        # test_admission.py for it).
        KNOWHERE_USER_QUESTIONS_PER_MINUTE="1000",
        KNOWHERE_EXPERTS_GROUP="experts",  # Alice and Carol (tests/fixtures/groups.yml)
    )
    log_path = company_settings.home / "teams-bot.log"
    with running_bot(["teams", "--port", str(free_port())], env, log_path) as url:
        yield url
    assert WEBHOOK_SECRET not in log_path.read_text()


@pytest.fixture(scope="module")
def secured_bot(company_settings: Settings, teams: TeamsStandIn) -> Iterator[str]:
    """The bot as deployed: Bot Framework tokens required, keys from the metadata stand-in."""
    env = bot_env(
        company_settings,
        KNOWHERE_TEAMS_APP_ID=APP_ID,
        KNOWHERE_TEAMS_APP_PASSWORD="test-client-secret",
        KNOWHERE_TEAMS_TENANT_ID=TENANT_ID,
        KNOWHERE_TEAMS_OPENID_METADATA_URL=teams.metadata_url,
    )
    log_path = company_settings.home / "teams-secured-bot.log"
    with running_bot(["teams", "--port", str(free_port())], env, log_path) as url:
        yield url
    assert "test-client-secret" not in log_path.read_text()


@pytest.fixture
def answer_log(company_settings: Settings) -> Iterator[AnswerLog]:
    log = AnswerLog(str(company_settings.database_url))
    yield log
    log.close()


def member(teams: TeamsStandIn, user_id: str) -> dict[str, Any]:
    return teams.state.members[user_id]


def post(
    bot: str, teams: TeamsStandIn, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{bot}/api/messages", json=body, headers=headers, timeout=60)


def replies_to(teams: TeamsStandIn, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [s.activity for s in list(teams.state.sent) if s.reply_to == body["id"]]


def ask(bot: str, teams: TeamsStandIn, body: dict[str, Any]) -> tuple[list[dict], dict]:
    assert post(bot, teams, body).status_code in (200, 202)
    sent = wait_for(lambda: [a for a in replies_to(teams, body) if a["type"] == "message"])
    return replies_to(teams, body), sent[0]


def cited(answer: dict[str, Any]) -> str:
    return json.dumps(answer.get("entities", []))


def test_a_personal_chat_gets_typing_then_a_cited_ai_labelled_answer(bot, teams):
    body = activity(
        teams.service_url, ALICE_CHAT, member(teams, "29:alice"), "How many vacation days do I get?"
    )
    replies, answer = ask(bot, teams, body)
    assert replies[0]["type"] == "typing"
    assert "28 days" in answer["text"] and "[1]" in answer["text"]
    entity = answer["entities"][0]
    assert entity["@type"] == "Message" and entity["additionalType"] == ["AIGeneratedContent"]
    assert entity["citation"][0]["position"] == 1
    assert "Vacation" in entity["citation"][0]["appearance"]["name"]
    assert answer["channelData"]["feedbackLoopEnabled"] is True


def test_a_question_is_acknowledged_at_once_and_answered_in_a_later_proactive_turn(bot, teams):
    body = activity(
        teams.service_url, ALICE_CHAT, member(teams, "29:alice"), "How do I connect to the VPN?"
    )
    teams.state.messages_flow.clear()  # the connector holds every message the bot sends
    try:
        # Answered within the turn, this request would wait for the held message.
        acknowledged = httpx.post(f"{bot}/api/messages", json=body, timeout=10)
        assert acknowledged.status_code in (200, 202)
        typing = wait_for(lambda: [a for a in replies_to(teams, body) if a["type"] == "typing"])
        assert typing and not [a for a in replies_to(teams, body) if a["type"] == "message"]
    finally:
        teams.state.messages_flow.set()
    answer = wait_for(lambda: [a for a in replies_to(teams, body) if a["type"] == "message"])
    assert "vpn" in cited(answer[0]).lower()  # the answer, as a reply to the question


def test_channels_answer_mentions_only_and_only_with_what_every_member_may_read(bot, teams):
    alice = member(teams, "29:alice")
    channel = {
        "channelData": {
            "team": {"id": TEAM},
            "channel": {"id": GENERAL},
            "tenant": {"id": "tenant-1"},
        }
    }
    unmentioned = activity(
        teams.service_url, GENERAL, alice, SALARY_QUESTION, conversation_type="channel", **channel
    )
    assert post(bot, teams, unmentioned).status_code in (200, 202)

    mentioned = activity(
        teams.service_url,
        GENERAL,
        alice,
        SALARY_QUESTION,
        conversation_type="channel",
        mention=True,
        **channel,
    )
    replies, answer = ask(bot, teams, mentioned)
    assert replies[0]["type"] == "typing"
    assert answer["entities"][0]["citation"]
    assert "85,000" not in answer["text"] and "salaries" not in cited(answer).lower()
    assert replies_to(teams, unmentioned) == []

    hr_only = activity(
        teams.service_url,
        HR_CHANNEL,
        alice,
        SALARY_QUESTION,
        conversation_type="channel",
        mention=True,
        channelData={"team": {"id": HR_TEAM}, "channel": {"id": HR_CHANNEL}},
    )
    _, answer = ask(bot, teams, hr_only)  # every member of the HR channel is in hr
    assert "85,000" in answer["text"]

    shared = activity(
        teams.service_url,
        SHARED_CHANNEL,
        alice,
        SALARY_QUESTION,
        conversation_type="channel",
        mention=True,
        channelData={"team": {"id": HR_TEAM}, "channel": {"id": SHARED_CHANNEL}},
    )
    _, answer = ask(bot, teams, shared)  # Dave from Contoso is in the channel, not in hr
    assert "85,000" not in answer["text"] and "salaries" not in cited(answer).lower()

    private = activity(teams.service_url, ALICE_CHAT, alice, SALARY_QUESTION)
    _, answer = ask(bot, teams, private)  # Alice alone, in hr
    assert "85,000" in answer["text"]


def in_general(teams: TeamsStandIn, user: str, question: str) -> dict[str, Any]:
    """A mention of the bot in the team's General channel (Alice, Bob and Carol)."""
    return activity(
        teams.service_url,
        GENERAL,
        member(teams, user),
        question,
        conversation_type="channel",
        mention=True,
        channelData={
            "team": {"id": TEAM},
            "channel": {"id": GENERAL},
            "tenant": {"id": "tenant-1"},
        },
    )


def test_the_asker_alone_gets_more_in_a_one_to_one_chat(bot, teams, answer_log):
    opened = len(teams.state.created)
    _, answer = ask(bot, teams, in_general(teams, "29:alice", SALARY_QUESTION))
    assert "85,000" not in answer["text"]  # Bob and Carol may not read salaries.md

    wait_for(lambda: len(teams.state.created) > opened)
    chat = teams.state.created[-1]
    assert chat["members"] == [{"id": "29:alice"}] and chat["isGroup"] is False
    assert chat["channelData"] == {"tenant": {"id": "tenant-1"}}
    alice_chat = "a:1personal-29:alice"
    offer = wait_for(lambda: teams.state.of_type("message", alice_chat))[-1].activity
    card = offer["attachments"][0]["content"]
    assert "salar" not in json.dumps(card).lower()  # the offer names no source
    button = card["actions"][0]
    assert button["type"] == "Action.Submit" and button["title"].startswith("More from sources")
    more = button["data"]

    # Bob submits the same button from his own chat: refused, and he sees nothing of it.
    bob_chat = "a:1personal-29:bob"
    pressed = activity(teams.service_url, bob_chat, member(teams, "29:bob"), value=more)
    _, refused = ask(bot, teams, pressed)
    assert "Only the person who asked" in refused["text"] and "85,000" not in json.dumps(refused)

    pressed = activity(teams.service_url, alice_chat, member(teams, "29:alice"), value=more)
    _, private = ask(bot, teams, pressed)
    assert "85,000" in private["text"]
    message_id = next(
        s.id
        for s in teams.state.sent
        if s.reply_to == pressed["id"] and s.activity["type"] == "message"
    )
    private_id = answer_log.answer_for_message("teams", alice_chat, message_id)
    assert private_id and answer_log.get(private_id).asker == "aad-alice"  # its 👍/👎 work

    # Nothing restricted went to the channel; Bob asking there is offered nothing.
    assert all(
        "85,000" not in json.dumps(s.activity)
        for s in teams.state.sent
        if s.conversation == GENERAL
    )
    opened = len(teams.state.created)
    ask(bot, teams, in_general(teams, "29:bob", SALARY_QUESTION))
    time.sleep(1)
    assert len(teams.state.created) == opened


def still_need_help(answer: dict[str, Any]) -> dict[str, str]:
    """The submit data of an answer's *Still need help* button."""
    card = answer["attachments"][0]["content"]
    button = card["actions"][0]
    assert button["type"] == "Action.Submit" and "Still need help" in button["title"]
    return button["data"]


def posted_to_support(teams: TeamsStandIn, since: int) -> list[str]:
    return [
        s.activity["text"] for s in teams.state.sent[since:] if s.conversation == SUPPORT_CHANNEL
    ]


def test_still_need_help_goes_to_the_support_channel_and_the_ticket_system(
    bot, teams, answer_log, ticket_system, company_settings
):
    question = "Who do I call when the office printer is jammed?"
    before, tickets = len(teams.state.sent), len(ticket_system.received)
    _, answer = ask(bot, teams, in_general(teams, "29:carol", question))
    data = still_need_help(answer)
    pressed = activity(
        teams.service_url,
        GENERAL,
        member(teams, "29:carol"),
        conversation_type="channel",
        channelData={"team": {"id": TEAM}, "channel": {"id": GENERAL}},
        value=data,
    )
    _, told = ask(bot, teams, pressed)  # a card's submit: no mention needed
    assert "handed your question to the support channel" in told["text"]
    support = wait_for(lambda: posted_to_support(teams, before))[-1]
    assert "**Carol** still needs help with:" in support and question in support
    assert "Knowhere answered:" in support  # the support team may read every passage
    headers, body = wait_for(
        lambda: len(ticket_system.received) > tickets and ticket_system.received[-1]
    )
    assert verify_signature(WEBHOOK_SECRET.encode(), body, headers, time.time())
    ticket = json.loads(body)
    assert ticket["platform"] == "teams" and ticket["question"] == question
    assert ticket["escalated_by"] == "aad-carol" and ticket["sources"]
    _, again = ask(bot, teams, {**pressed, "id": pressed["id"] + "1"})
    assert "already asked" in again["text"]

    # Alice's own answer from her 1:1 chat: the support channel gets the question alone.
    before, tickets = len(teams.state.sent), len(ticket_system.received)
    private = activity(teams.service_url, ALICE_CHAT, member(teams, "29:alice"), SALARY_QUESTION)
    _, answer = ask(bot, teams, private)
    assert "85,000" in answer["text"]
    pressed = activity(
        teams.service_url, ALICE_CHAT, member(teams, "29:alice"), value=still_need_help(answer)
    )
    ask(bot, teams, pressed)
    support = wait_for(lambda: posted_to_support(teams, before))[-1]
    assert SALARY_QUESTION in support and "not shown here" in support and "85,000" not in support
    wait_for(lambda: len(ticket_system.received) > tickets)
    assert "85,000" in json.loads(ticket_system.received[-1][1])["answer"]

    report = jobs.outcomes(company_settings, timedelta(hours=1))
    assert (
        next(r for r in report.channels if r.group == f"teams:{GENERAL}").counts["escalated"] >= 1
    )


def card_action(answer: dict[str, Any], title: str) -> dict[str, Any]:
    actions = answer["attachments"][0]["content"]["actions"]
    return next(a for a in actions if title in a["title"])


def submitted_in_general(teams: TeamsStandIn, user: str, value: dict[str, Any]) -> dict:
    return activity(
        teams.service_url,
        GENERAL,
        member(teams, user),
        conversation_type="channel",
        channelData={"team": {"id": TEAM}, "channel": {"id": GENERAL}},
        value=value,
    )


def test_an_expert_verifies_in_a_card_and_the_same_question_gets_it_first(bot, teams):
    _, answer = ask(bot, teams, in_general(teams, "29:bob", "How do I connect to the VPN?"))
    verify = card_action(answer, "Verify")
    assert verify["type"] == "Action.ShowCard"
    form = verify["card"]["body"][0]
    assert form["type"] == "Input.Text" and form["id"] == "text" and form["value"]
    data = verify["card"]["actions"][0]["data"]
    edited = "Install WireGuard, import the profile from the IT portal and connect."

    _, refused = ask(bot, teams, submitted_in_general(teams, "29:bob", {**data, "text": edited}))
    assert "Only members of the experts group" in refused["text"]
    _, told = ask(bot, teams, submitted_in_general(teams, "29:carol", {**data, "text": edited}))
    assert told["text"].startswith("Verified.")

    _, again = ask(bot, teams, in_general(teams, "29:bob", "how can I connect to the VPN?"))
    assert again["text"].startswith(f"✅ **Verified by Carol on {datetime.now(UTC):%Y-%m-%d}**")
    assert "Install WireGuard, import the profile" in again["text"]
    assert again["entities"][0]["citation"]  # the usual answer follows, with its pills
    withdraw = card_action(again, "Withdraw")["data"]
    _, refused = ask(bot, teams, submitted_in_general(teams, "29:bob", withdraw))
    assert "Only members" in refused["text"]
    _, withdrawn = ask(bot, teams, submitted_in_general(teams, "29:carol", withdraw))
    assert withdrawn["text"].startswith("Withdrawn")
    _, usual = ask(bot, teams, in_general(teams, "29:bob", "how can I connect to the VPN?"))
    assert "Verified by" not in usual["text"]


def answered(bot: str, teams: TeamsStandIn, question: str) -> tuple[str, str]:
    body = activity(teams.service_url, ALICE_CHAT, member(teams, "29:alice"), question)
    ask(bot, teams, body)
    message = next(
        s for s in teams.state.sent if s.reply_to == body["id"] and s.activity["type"] == "message"
    )
    return message.id, body["id"]


def test_like_and_dislike_with_text_become_pairs(bot, teams, answer_log, company_settings):
    message_id, _ = answered(bot, teams, "Who do I tell when my laptop is stolen?")
    answer_id = answer_log.answer_for_message("teams", ALICE_CHAT, message_id)
    assert answer_id

    for user, reaction, text in (("29:bob", "like", "spot on"), ("29:carol", "dislike", "old")):
        invoke = activity(
            teams.service_url,
            ALICE_CHAT,
            member(teams, user),
            kind="invoke",
            name="message/submitAction",
            replyToId=message_id,
            value={
                "actionName": "feedback",
                "actionValue": {
                    "reaction": reaction,
                    "feedback": json.dumps({"feedbackText": text}),
                },
            },
        )
        response = post(bot, teams, invoke)
        assert response.status_code == 200
        assert response.content == b""  # the empty 200 Teams expects

    pairs = [p for p in answer_log.pairs() if p.answer_id == answer_id]
    assert {(p.user, p.label, p.comment) for p in pairs} == {
        ("aad-bob", 1, "spot on"),
        ("aad-carol", -1, "old"),
    }
    assert all(p.passage and p.query for p in pairs)
    # One like, one dislike: the outcomes report counts the answer as not helpful, once.
    report = jobs.outcomes(company_settings, timedelta(hours=1))
    chat = next(r for r in report.channels if r.group == f"teams:{ALICE_CHAT}")
    assert chat.counts["not_helpful"] >= 1 and sum(chat.counts.values()) == chat.answers


def test_a_like_reaction_is_a_pair_and_removing_it_withdraws_it(bot, teams, answer_log):
    message_id, _ = answered(bot, teams, "How do I connect to the VPN?")
    answer_id = answer_log.answer_for_message("teams", ALICE_CHAT, message_id)
    bob = member(teams, "29:bob")
    added = activity(
        teams.service_url,
        ALICE_CHAT,
        bob,
        kind="messageReaction",
        replyToId=message_id,
        reactionsAdded=[{"type": "like"}],
    )
    assert post(bot, teams, added).status_code in (200, 202)
    assert {(p.user, p.label) for p in answer_log.pairs() if p.answer_id == answer_id} == {
        ("aad-bob", 1)
    }
    removed = activity(
        teams.service_url,
        ALICE_CHAT,
        bob,
        kind="messageReaction",
        replyToId=message_id,
        reactionsRemoved=[{"type": "like"}],
    )
    assert post(bot, teams, removed).status_code in (200, 202)
    assert not [p for p in answer_log.pairs() if p.answer_id == answer_id]


def test_requests_without_a_valid_bot_framework_token_are_refused(secured_bot, teams):
    bot = secured_bot
    body = activity(teams.service_url, ALICE_CHAT, member(teams, "29:alice"), "hello")
    assert post(bot, teams, body).status_code == 401
    assert post(bot, teams, body, token="not-a-jwt").status_code == 401
    assert post(bot, teams, body, token=teams.token(trusted=False)).status_code == 401
    assert post(bot, teams, body, token=teams.token(audience="someone-else")).status_code == 401
    assert post(bot, teams, body, token=teams.token(lifetime=-3600)).status_code == 401
    forged = teams.token(issuer="https://sts.windows.net/00000000-0000-0000-0000-00000000bad1/")
    assert post(bot, teams, body, token=forged).status_code == 401  # an issuer we do not accept
    time.sleep(0.5)
    assert replies_to(teams, body) == []
    assert post(bot, teams, body, token=teams.token()).status_code != 401  # Bot Framework's


def test_a_secured_bot_without_its_tenant_id_refuses_to_start(company_settings, teams, tmp_path):
    import subprocess
    import sys

    env = bot_env(
        company_settings,
        KNOWHERE_TEAMS_APP_ID=APP_ID,
        KNOWHERE_TEAMS_APP_PASSWORD="test-client-secret",
    )
    started = subprocess.run(
        [sys.executable, "-m", "bot.cli", "teams", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert "KNOWHERE_TEAMS_TENANT_ID is not set" in started.stderr
    assert "test-client-secret" not in started.stderr + started.stdout


def test_the_same_activity_delivered_twice_is_answered_once(bot, teams):
    body = activity(
        teams.service_url,
        ALICE_CHAT,
        member(teams, "29:alice"),
        "What happens to unused vacation days?",
    )
    ask(bot, teams, body)
    assert post(bot, teams, body).status_code in (200, 202)
    time.sleep(1)
    assert len([a for a in replies_to(teams, body) if a["type"] == "message"]) == 1


def test_the_app_package_holds_the_manifest_with_our_ids_and_both_icons(tmp_path):
    import subprocess
    import sys
    import zipfile

    from PIL import Image

    out = tmp_path / "knowhere-teams.zip"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "teams-package",
            "--host",
            "https://bot.example.com/",
            "--app-id",
            APP_ID,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
        assert manifest["validDomains"] == ["bot.example.com"]
        assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
        with package.open("color.png") as color, package.open("outline.png") as outline:
            assert Image.open(color).size == (192, 192)
            assert Image.open(outline).size == (32, 32)

    refused = subprocess.run(
        [sys.executable, "-m", "bot.cli", "teams-package", "--host", "x", "--app-id", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1 and "not an app id" in refused.stderr
