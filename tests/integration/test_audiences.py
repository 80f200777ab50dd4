"""Bot replicas share the channel audiences they cache: a membership change seen by one of
them is seen by all, within the same second, so nobody answers for an old member list."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock

from bot.cache import SharedAudiences
from bot.slack.people import SlackPeople
from indexing import Directory, GroupDirectory

GROUPS = Directory(GroupDirectory({"hr": {"alice@example.com"}}))
USERS = {
    "UALICE": {"id": "UALICE", "profile": {"email": "alice@example.com"}},
    "UBOB": {"id": "UBOB", "profile": {"email": "bob@example.com"}},
}


def slack(members: list[str]) -> AsyncMock:
    """A Slack Web API client whose channel has `members` (the list can change)."""
    client = AsyncMock()
    client.conversations_members.side_effect = lambda **_: {"members": list(members)}
    client.users_info.side_effect = lambda user: {"user": USERS[user]}
    return client


def test_a_member_joining_seen_by_one_replica_changes_what_the_other_answers_with(redis_server):
    async def story() -> None:
        members = ["UALICE"]
        cache = {"redis_url": redis_server.url, "prefix": "knowhere:audience:test:"}
        first = SlackPeople(slack(members), GROUPS, SharedAudiences(**cache))
        second = SlackPeople(slack(members), GROUPS, SharedAudiences(**cache))
        try:
            before = await second.channel("C1")
            assert [p.email for p in before.principals] == ["alice@example.com"]

            members.append("UBOB")  # Bob joins; only the first replica gets the event
            await first.forget_channel("C1")

            after = await second.channel("C1")
            assert [p.email for p in after.principals] == ["alice@example.com", "bob@example.com"]
        finally:
            await first.close()
            await second.close()

    asyncio.run(story())
