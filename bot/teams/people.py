"""Teams users and conversations as principals and audiences (Bot Connector members API).

A user's e-mail (or user principal name) from the conversation's member list is their
identity; groups come from the group directory. In a channel or group chat the audience is
every member, so only what all of them may read is used.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.activity import ChannelAccount
from microsoft_agents.hosting.core import TurnContext

from indexing import Audience, GroupDirectory, Principal

from ..cache import TTLCache

log = logging.getLogger(__name__)
CONNECTOR_CLIENT_KEY = "ConnectorClient"  # where the adapter keeps the turn's connector client
PAGE_SIZE = 200


def conversation_key(activity: Any) -> str:
    """The team's id for a channel (members belong to the team), else the conversation's."""
    data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = (data.get("team") or {}).get("id")
    return str(team or activity.conversation.id)


def _email(account: ChannelAccount) -> str | None:
    extra: dict[str, Any] = account.model_extra or {}
    return extra.get("email") or extra.get("userPrincipalName")


class TeamsPeople:
    def __init__(self, groups: GroupDirectory, ttl_s: float = 120) -> None:
        self.groups = groups
        self._users = TTLCache(ttl_s)
        self._conversations = TTLCache(ttl_s)

    def _principal(self, account: ChannelAccount) -> Principal:
        principal = self.groups.principal(_email(account))
        self._users.put(account.id, principal)
        return principal

    async def person(self, context: TurnContext) -> Audience:
        """The sender alone (1:1 chats)."""
        sender = context.activity.from_property
        cached, principal = self._users.get(sender.id)
        if not cached:
            try:
                client: Any = context.turn_state[CONNECTOR_CLIENT_KEY]
                member = await client.conversations.get_conversation_member(
                    context.activity.conversation.id, sender.id
                )
                principal = self._principal(member)
            except Exception as err:  # noqa: BLE001 - unknown identity reads public only
                log.warning("member lookup failed (%s): public documents only", type(err).__name__)
                principal = Principal()
        return Audience.of([principal])

    async def conversation(self, context: TurnContext) -> Audience:
        """Every member of the channel's team or of the group chat."""
        activity = context.activity
        key = conversation_key(activity)
        cached, audience = self._conversations.get(key)
        if cached:
            return audience
        client: Any = context.turn_state[CONNECTOR_CLIENT_KEY]
        principals: list[Principal] = []
        token = None
        try:
            while True:
                page = await client.conversations.get_conversation_paged_members(
                    key, page_size=PAGE_SIZE, continuation_token=token
                )
                principals += [self._principal(m) for m in page.members or []]
                token = page.continuation_token
                if not token:
                    break
        except Exception as err:  # noqa: BLE001
            log.warning("member list failed (%s): public documents only", type(err).__name__)
            return Audience()
        audience = Audience.of(principals)
        self._conversations.put(key, audience)
        return audience

    def forget(self, conversation_or_team: str) -> None:
        self._conversations.drop(conversation_or_team)
