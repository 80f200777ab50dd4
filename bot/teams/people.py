"""Teams users and conversations as principals and audiences (Bot Connector members API).

A user's e-mail (or user principal name) from the conversation's member list is their
identity; other identities and groups come from the directory. In a channel or group chat
the audience is every member (of the channel itself, which in a shared or private channel is
not the team's roster), so only what all of them may read is used.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from microsoft_agents.activity import ChannelAccount
from microsoft_agents.hosting.core import TurnContext

from indexing import Audience, Directory, Principal

from ..cache import SharedAudiences, TTLCache

log = logging.getLogger(__name__)
CONNECTOR_CLIENT_KEY = "ConnectorClient"  # where the adapter keeps the turn's connector client
PAGE_SIZE = 200


def _channel_data(activity: Any) -> dict[str, Any]:
    return activity.channel_data if isinstance(activity.channel_data, dict) else {}


def conversation_key(activity: Any) -> str:
    """Whose members see an answer: the channel's own (a private or shared channel's members
    are not the team's roster), else the group chat's."""
    channel = (_channel_data(activity).get("channel") or {}).get("id")
    return str(channel or activity.conversation.id).split(";", 1)[0]


def membership_keys(activity: Any) -> set[str]:
    """Every cached audience a membership change may concern: the channel's, the team's
    (a team member leaving leaves its standard channels) and the conversation's."""
    data = _channel_data(activity)
    keys = {conversation_key(activity), str(activity.conversation.id).split(";", 1)[0]}
    team = (data.get("team") or {}).get("id")
    return keys | ({str(team)} if team else set())


def _email(account: ChannelAccount) -> str | None:
    extra: dict[str, Any] = account.model_extra or {}
    return extra.get("email") or extra.get("userPrincipalName")


class TeamsPeople:
    def __init__(
        self, directory: Directory, conversations: SharedAudiences, ttl_s: float = 120
    ) -> None:
        self.directory = directory
        self._users = TTLCache(ttl_s)
        self._conversations = conversations  # shared by every replica

    async def _principal(self, account: ChannelAccount) -> Principal:
        principal = await asyncio.to_thread(self.directory.principal, _email(account))
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
                principal = await self._principal(member)
            except Exception as err:  # noqa: BLE001 - unknown identity reads public only
                log.warning("member lookup failed (%s): public documents only", type(err).__name__)
                principal = Principal()
        return Audience.of([principal])

    async def conversation(self, context: TurnContext) -> Audience:
        """Every member of the channel, or of the group chat."""
        return await self.members_of(context, conversation_key(context.activity))

    async def members_of(self, context: TurnContext, key: str) -> Audience:
        """Every member of conversation `key` (a channel or group chat the bot is in), read
        with the turn's connector."""
        cached = await self._conversations.get(key)
        if cached is not None:
            return cached
        client: Any = context.turn_state[CONNECTOR_CLIENT_KEY]
        principals: list[Principal] = []
        token = None
        try:
            while True:
                page = await client.conversations.get_conversation_paged_members(
                    key, page_size=PAGE_SIZE, continuation_token=token
                )
                principals += [await self._principal(m) for m in page.members or []]
                token = page.continuation_token
                if not token:
                    break
        except Exception as err:  # noqa: BLE001
            log.warning("member list failed (%s): public documents only", type(err).__name__)
            return Audience()
        audience = Audience.of(principals)
        await self._conversations.put(key, audience)
        return audience

    async def close(self) -> None:
        await self._conversations.close()

    async def forget(self, keys: set[str]) -> None:
        """Membership changed: every replica reads these member lists again."""
        for key in keys:
            await self._conversations.drop(key)
