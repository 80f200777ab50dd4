"""Every Slack listener, registered on the app in one place."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from ..render import FEEDBACK_ACTION, VERIFY_CALLBACK
from . import actions, assistant, commands, events


def register(app: AsyncApp, command: str = "/ask") -> None:
    app.assistant(assistant.assistant())  # before `message`: it takes assistant threads' own
    app.event("app_mention")(events.app_mention)
    app.event("message")(events.message)
    app.event("member_joined_channel")(events.membership_changed)
    app.event("member_left_channel")(events.membership_changed)
    app.event("reaction_added")(events.reaction_added)
    app.event("reaction_removed")(events.reaction_removed)
    app.command(command)(commands.ask)
    app.action("share_answer")(actions.share_answer)
    app.action(FEEDBACK_ACTION)(actions.answer_vote)
    app.action(re.compile(r"^feedback_(up|down)$"))(actions.answer_vote)  # answers posted before
    app.action("source_vote")(actions.source_vote)
    app.action("escalate")(actions.escalate_answer)
    app.action("more_answer")(actions.more_answer)
    app.action("verify_answer")(actions.verify_answer)
    app.action("withdraw_verified")(actions.withdraw_verified)
    app.view(VERIFY_CALLBACK)(actions.verify_submitted)
