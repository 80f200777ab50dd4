"""Each Slack listener on its own, with the Web API client and the bot's parts mocked.

The end-to-end behaviour (signed requests, the stand-in Slack, real answers) is tested in
`tests/integration/test_slack_bot.py`; here each listener's decisions are checked directly.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

from bot.admission import NotNow
from bot.slack.answering import SORRY
from bot.slack.listeners import actions, commands, events
from bot.slack.render import SEARCHING
from indexing import PUBLIC, Access, Answer, Audience, Citation, Hit, Principal, Turn

ALICE = Audience.of([Principal.of("alice@example.com", ["hr"])])
CHANNEL = Audience.of([Principal.of("alice@example.com", ["hr"]), Principal.of("bob@example.com")])


def citation(number: int = 1) -> Citation:
    return Citation(number, "Vacation", "https://wiki/v", "", "28 days.", f"c{number}", "kb:v", "V")


def answer() -> Answer:
    return Answer("How many vacation days?", "28 days [1].", [citation()], "extractive")


def fake_bot(thread_answered: bool = False) -> SimpleNamespace:
    log = MagicMock()
    log.record.return_value = "answer-1"
    log.answered_thread.return_value = thread_answered
    log.answer_for_message.return_value = "answer-1"
    log.active_vote.return_value = None
    # The thread's logged turns (none: the bot never answered there, so Slack's replies).
    log.thread_turns.return_value = (
        [Turn("user", "vacation?"), Turn("assistant", "28 days [1].")] if thread_answered else []
    )
    return SimpleNamespace(
        runner=SimpleNamespace(ask=AsyncMock(return_value=answer())),
        answer_log=log,
        people=SimpleNamespace(
            person=AsyncMock(return_value=ALICE),
            channel=AsyncMock(return_value=CHANNEL),
            forget_channel=AsyncMock(),
        ),
        store=MagicMock(),
        escalation=None,
        experts=None,
        admission=None,
    )


def slack_client() -> AsyncMock:
    client = AsyncMock()
    client.chat_postMessage.return_value = {"ts": "111.222"}
    client.conversations_replies.return_value = {"messages": [{"ts": "6.0", "text": "vacation?"}]}
    return client


def context(bot: SimpleNamespace) -> dict[str, Any]:
    return {"knowhere": bot, "bot_user_id": "UBOT"}


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_mention_posts_a_placeholder_in_its_thread_then_the_answer_for_the_channel():
    bot, client = fake_bot(), slack_client()
    event = {"channel": "C1", "user": "U1", "ts": "100.1", "text": "<@UBOT> vacation days?"}

    run(events.app_mention(event=event, client=client, context=context(bot)))

    placeholder = client.chat_postMessage.await_args.kwargs
    assert (placeholder["thread_ts"], placeholder["text"]) == ("100.1", SEARCHING)
    bot.people.channel.assert_awaited_once_with("C1")
    assert bot.runner.ask.await_args.args[:2] == ("vacation days?", CHANNEL)
    update = client.chat_update.await_args.kwargs
    assert update["ts"] == "111.222" and "28 days" in update["text"]
    assert bot.answer_log.record.call_args.args[1:] == ("slack", "C1", "U1", "100.1", "111.222")


class Full:
    """An admission with no room: every question is turned away."""

    def admit(self, user: str) -> Any:
        raise NotNow("I'm answering a lot of questions right now. Please try again in 12 s.", 12)


def test_a_question_the_bot_cannot_take_now_gets_only_a_note_to_its_asker():
    bot, client = fake_bot(), slack_client()
    bot.admission = Full()
    event = {"channel": "C1", "user": "U1", "ts": "100.1", "text": "<@UBOT> vacation days?"}

    run(events.app_mention(event=event, client=client, context=context(bot)))

    note = client.chat_postEphemeral.await_args.kwargs
    assert (note["channel"], note["user"], note["thread_ts"]) == ("C1", "U1", "100.1")
    assert note["text"].endswith("try again in 12 s.")
    client.chat_postMessage.assert_not_awaited()  # no placeholder in the channel
    bot.runner.ask.assert_not_awaited()


def test_a_direct_message_is_answered_with_the_askers_own_permissions():
    bot, client = fake_bot(), slack_client()
    event = {"channel": "D1", "channel_type": "im", "user": "U1", "ts": "5.0", "text": "hi?"}

    run(events.message(event=event, client=client, context=context(bot)))

    bot.people.person.assert_awaited_once_with("U1")
    assert bot.runner.ask.await_args.args[1] == ALICE


def test_a_thread_message_is_answered_only_where_the_bot_answered_before():
    for answered, expected in ((False, 0), (True, 1)):
        bot, client = fake_bot(thread_answered=answered), slack_client()
        event = {"channel": "C1", "user": "U1", "ts": "7.0", "thread_ts": "6.0", "text": "and?"}
        run(events.message(event=event, client=client, context=context(bot)))
        assert bot.runner.ask.await_count == expected
    history = bot.runner.ask.await_args.args[2]  # the thread's turns, from the answer log
    assert [(t.role, t.text) for t in history] == [
        ("user", "vacation?"),
        ("assistant", "28 days [1]."),
    ]
    assert bot.answer_log.thread_turns.call_count == 1  # read once, not again to answer
    client.conversations_replies.assert_not_awaited()


def test_messages_from_bots_and_edits_are_ignored():
    bot, client = fake_bot(thread_answered=True), slack_client()
    for extra in ({"bot_id": "B1"}, {"subtype": "message_changed"}):
        event = {"channel": "C1", "ts": "7.0", "thread_ts": "6.0", "text": "x", **extra}
        run(events.message(event=event, client=client, context=context(bot)))
    client.chat_postMessage.assert_not_awaited()


def test_a_failed_answer_replaces_the_placeholder_with_an_apology():
    bot, client = fake_bot(), slack_client()
    bot.runner.ask.side_effect = RuntimeError("Weaviate went away")
    event = {"channel": "C1", "user": "U1", "ts": "1.0", "text": "<@UBOT> vacation?"}

    run(events.app_mention(event=event, client=client, context=context(bot)))

    assert client.chat_update.await_args.kwargs["text"] == SORRY


def test_a_membership_change_forgets_the_channels_audience():
    bot = fake_bot()
    run(events.membership_changed(event={"channel": "C9"}, context=context(bot)))
    bot.people.forget_channel.assert_awaited_once_with("C9")


def test_a_thumbs_reaction_on_an_answer_is_a_vote_and_other_reactions_are_ignored():
    bot = fake_bot()
    item = {"type": "message", "channel": "C1", "ts": "111.222"}
    run(
        events.reaction_added(
            event={"reaction": "tada", "item": item, "user": "U2"}, context=context(bot)
        )
    )
    bot.answer_log.answer_for_message.assert_not_called()

    run(
        events.reaction_added(
            event={"reaction": "thumbsup", "item": item, "user": "U2"}, context=context(bot)
        )
    )
    bot.answer_log.add_feedback.assert_called_once_with("answer-1", "U2", "reaction", "+1", 1)

    run(
        events.reaction_removed(
            event={"reaction": "+1", "item": item, "user": "U2"}, context=context(bot)
        )
    )
    bot.answer_log.withdraw.assert_called_once_with("answer-1", "U2", "reaction", "+1")


def test_the_slash_command_answers_privately_with_a_share_button():
    bot, respond = fake_bot(), AsyncMock()
    ack = AsyncMock()
    command = {"text": "vacation days?", "user_id": "U1", "channel_id": "C1"}

    run(commands.ask(ack=ack, command=command, respond=respond, context=context(bot)))

    assert ack.await_args.kwargs == {"response_type": "ephemeral", "text": SEARCHING}
    bot.people.person.assert_awaited_once_with("U1")
    posted = respond.await_args.kwargs
    assert posted["response_type"] == "ephemeral" and posted["replace_original"] is False
    actions_block = next(b for b in posted["blocks"] if b["type"] == "actions")
    assert "share_answer" in {e["action_id"] for e in actions_block["elements"]}


def _stored(bot: SimpleNamespace, access: Access, uncited: Access = PUBLIC) -> None:
    """An answer citing c1 (readable as `access`), made from c1 and c2 (`uncited`)."""
    made_from = Answer("q?", "28 days [1].", [citation()], "extractive", retrieved=["c1", "c2"])
    bot.answer_log.get.return_value = SimpleNamespace(id="answer-1", answer=made_from)
    hit = Hit("c1", "kb:v", "28 days.", "Vacation", "", "https://wiki/v", "kb", 0, 1.0)
    other = Hit(**{**hit.__dict__, "chunk_id": "c2", "access": uncited})
    bot.store.fetch.return_value = [Hit(**{**hit.__dict__, "access": access}), other]


def share(bot: SimpleNamespace, client: AsyncMock) -> None:
    """U1 presses *Share in channel* on answer-1 in channel C1."""
    body = {"user": {"id": "U1"}, "channel": {"id": "C1"}}
    action = {"value": "answer-1"}
    run(
        actions.share_answer(
            ack=AsyncMock(), body=body, action=action, client=client, context=context(bot)
        )
    )


def test_sharing_is_refused_when_someone_in_the_channel_may_not_read_a_source():
    bot, client = fake_bot(), slack_client()
    _stored(bot, Access.restricted(groups=["hr"]))  # bob is not in hr
    share(bot, client)

    client.chat_postMessage.assert_not_awaited()
    assert client.chat_postEphemeral.await_args.kwargs["text"] == actions.CANNOT_SHARE


def test_sharing_is_refused_when_an_uncited_passage_the_answer_was_made_from_is_restricted():
    bot, client = fake_bot(), slack_client()
    _stored(bot, PUBLIC, uncited=Access.restricted(groups=["hr"]))
    share(bot, client)

    assert bot.store.fetch.call_args.args[0] == ["c1", "c2"]
    client.chat_postMessage.assert_not_awaited()


def test_sharing_posts_the_answer_when_everyone_may_read_its_sources():
    bot, client = fake_bot(), slack_client()
    _stored(bot, PUBLIC)
    share(bot, client)

    assert client.chat_postMessage.await_args.kwargs["channel"] == "C1"
    bot.answer_log.add_message.assert_called_once_with("answer-1", "slack", "C1", "111.222")


def test_pressing_the_same_vote_button_again_takes_the_vote_back():
    bot, client = fake_bot(), slack_client()
    body = {"user": {"id": "U1"}, "channel": {"id": "C1"}}
    action = {"action_id": "feedback_up", "value": "answer-1"}

    run(
        actions.answer_vote(
            ack=AsyncMock(), body=body, action=action, client=client, context=context(bot)
        )
    )
    bot.answer_log.add_feedback.assert_called_once_with("answer-1", "U1", "button", "vote", 1)

    bot.answer_log.active_vote.return_value = 1
    run(
        actions.answer_vote(
            ack=AsyncMock(), body=body, action=action, client=client, context=context(bot)
        )
    )
    bot.answer_log.withdraw.assert_called_once_with("answer-1", "U1", "button", "vote")
    assert "removed" in client.chat_postEphemeral.await_args.kwargs["text"]


def test_slack_s_feedback_buttons_carry_the_answer_and_the_vote_in_their_value():
    bot, client = fake_bot(), slack_client()
    body = {"user": {"id": "U1"}, "channel": {"id": "C1"}}

    def press(value: str) -> None:
        action = {"type": "feedback_buttons", "action_id": "answer_feedback", "value": value}
        run(
            actions.answer_vote(
                ack=AsyncMock(), body=body, action=action, client=client, context=context(bot)
            )
        )

    press("answer:1:down")  # an id may hold ":" itself
    bot.answer_log.add_feedback.assert_called_once_with("answer:1", "U1", "button", "vote", -1)
    press("answer-1:sideways")  # not a vote: nothing is recorded
    press("up")
    assert bot.answer_log.add_feedback.call_count == 1


def test_a_user_group_without_a_channel_hears_of_an_escalation_each_in_a_direct_message(
    monkeypatch,
):
    from bot.escalation import Escalation
    from indexing import StoredAnswer

    bot, client = fake_bot(), slack_client()
    bot.escalation = Escalation(group="SSUPPORT")
    bot.answer_log.get.return_value = StoredAnswer("answer-1", "slack", "D1", None, "U1", answer())
    bot.answer_log.escalated_by.return_value = False
    client.usergroups_users_list.return_value = {"ok": True, "users": ["UHR", "UOTHER"]}
    people = {"UHR": ALICE, "UOTHER": Audience.of([Principal.of("bob@example.com")])}
    bot.people.person = AsyncMock(side_effect=lambda user: people[user])
    # Only the hr member may read the answer's passages.
    monkeypatch.setattr(actions, "readable_by", lambda store, ids, audience: audience is ALICE)

    note = run(actions.hand_to_people(bot, client, "answer-1", "U1", "button"))

    client.usergroups_users_list.assert_awaited_once_with(usergroup="SSUPPORT")
    sent = {c.kwargs["channel"]: c.kwargs["text"] for c in client.chat_postMessage.await_args_list}
    assert set(sent) == {"UHR", "UOTHER"}
    assert "28 days" in sent["UHR"] and "28 days" not in sent["UOTHER"]
    assert "How many vacation days?" in sent["UOTHER"]  # the question reaches everyone
    assert note == "I've handed your question to the support team: someone will follow up."
    bot.answer_log.record_escalation.assert_called_once_with(
        "answer-1", "U1", "button", "slack:group:SSUPPORT"
    )
