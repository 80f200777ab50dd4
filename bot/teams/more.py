"""The private "more" in Teams: the offer goes to the asker's 1:1 chat with the bot.

Teams has no message only one member of a channel sees, so the offer is a proactive 1:1
message (`POST /v3/conversations` with the asker as the only member, then the card): an
Adaptive Card whose *More from sources only you can see* button (`Action.Submit`) comes
back as a message activity carrying `{"knowhere_more": <answer id>}` in its value.
"""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationParameters,
)
from microsoft_agents.hosting.core import TurnContext

from ..more import MORE_LABEL, MORE_OFFER
from .people import CONNECTOR_CLIENT_KEY
from .render import submit_card

MORE_KEY = "knowhere_more"  # the card's submit data: {MORE_KEY: answer id}


def offer_card(answer_id: str) -> Activity:
    card = submit_card(MORE_OFFER, MORE_LABEL, {MORE_KEY: answer_id})
    return Activity(type=ActivityTypes.message, attachments=[card])


async def offer_in_private(context: TurnContext, answer_id: str) -> None:
    """Open (or reuse: Teams answers with the existing one) the asker's 1:1 chat with the bot
    and post the offer there."""
    activity = context.activity
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = activity.conversation.tenant_id or (channel_data.get("tenant") or {}).get("id")
    connector: Any = context.turn_state[CONNECTOR_CLIENT_KEY]
    chat = await connector.conversations.create_conversation(
        ConversationParameters(
            is_group=False,
            agent=activity.recipient,
            members=[ChannelAccount(id=activity.from_property.id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
    )
    await connector.conversations.send_to_conversation(chat.id, offer_card(answer_id))
