"""Slack users and channels as principals and audiences (users.info, conversations.members).

A user's e-mail (`users.info`, scope users:read.email) is their identity; their other
identities and their groups come from the directory (synced from the sources, plus the groups
file). Bots are not readers. Anyone whose e-mail cannot be read counts as a reader of public
documents only, so a channel with such a member gets only public ones.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from indexing import Audience, Directory, Principal

from ..cache import SharedAudiences, TTLCache

log = logging.getLogger(__name__)
NOT_A_READER = None


class SlackPeople:
    def __init__(
        self,
        client: AsyncWebClient,
        directory: Directory,
        channels: SharedAudiences,
        ttl_s: float = 120,
    ) -> None:
        self.client = client
        self.directory = directory
        self._users = TTLCache(ttl_s)
        self._channels = channels  # shared by every replica
        self._lookups = asyncio.Semaphore(8)

    async def principal(self, user_id: str) -> Principal | None:
        """The user as a principal; None for bots (they read nothing themselves)."""
        cached, value = self._users.get(user_id)
        if cached:
            return value
        try:
            async with self._lookups:
                response = await self.client.users_info(user=user_id)
            user = response["user"]
            if user.get("is_bot") or user.get("deleted") or user_id == "USLACKBOT":
                principal = NOT_A_READER
            else:
                email = user.get("profile", {}).get("email")
                principal = await asyncio.to_thread(self.directory.principal, email)
        except SlackApiError as err:
            log.warning(
                "users.info for %s failed (%s): public documents only",
                user_id,
                err.response.get("error"),
            )
            principal = Principal()
        self._users.put(user_id, principal)
        return principal

    async def name(self, user_id: str) -> str:
        """How the user is shown to others (their real name; their id when unknown)."""
        try:
            async with self._lookups:
                response = await self.client.users_info(user=user_id)
        except SlackApiError:
            return user_id
        profile = response["user"].get("profile", {})
        return str(profile.get("real_name") or response["user"].get("real_name") or user_id)

    async def person(self, user_id: str) -> Audience:
        """One person's audience (direct messages, the slash command)."""
        principal = await self.principal(user_id)
        return Audience.of([principal or Principal()])

    async def channel(self, channel_id: str) -> Audience:
        """Everyone in the channel: only what every member may read."""
        cached = await self._channels.get(channel_id)
        if cached is not None:
            return cached
        try:
            members = await self._members(channel_id)
        except SlackApiError as err:
            log.warning(
                "conversations.members for %s failed (%s): public documents only",
                channel_id,
                err.response.get("error"),
            )
            return Audience()
        principals = await asyncio.gather(*(self.principal(m) for m in members))
        audience = Audience.of(p for p in principals if p is not None)
        await self._channels.put(channel_id, audience)
        return audience

    async def close(self) -> None:
        await self._channels.close()

    async def forget_channel(self, channel_id: str) -> None:
        """Membership changed: the next answer there, in any replica, reads the list again."""
        await self._channels.drop(channel_id)

    async def _members(self, channel_id: str) -> list[str]:
        members: list[str] = []
        cursor = None
        while True:
            response = await self.client.conversations_members(
                channel=channel_id, cursor=cursor, limit=200
            )
            members += response.get("members", [])
            metadata: dict[str, Any] = response.get("response_metadata") or {}
            cursor = metadata.get("next_cursor")
            if not cursor:
                return members
