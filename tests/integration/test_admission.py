"""The bots' admission, against a real Redis: a per-user rate limit every replica shares, and
a bounded answer queue that turns questions away at once with when to try again."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.admission import Admission, NotNow
from indexing import Settings


def admissions(redis_server, count: int, **limits: int) -> list[Admission]:
    """`count` bot replicas' admissions over one Redis (a platform name of their own)."""
    settings = Settings(redis_url=redis_server.url, **limits)
    platform = f"slack-{uuid.uuid4().hex[:8]}"
    return [Admission.from_settings(settings, platform) for _ in range(count)]


async def ask(admission: Admission, user: str) -> None:
    async with admission.admit(user):
        await asyncio.sleep(0)


def test_someone_asking_too_often_is_told_when_to_try_again_by_every_replica(redis_server):
    one, two = admissions(redis_server, 2, user_questions_per_minute=3)

    async def story() -> None:
        await ask(one, "UHASTY")
        await ask(two, "UHASTY")
        await ask(one, "UHASTY")
        for replica in (one, two):  # the fourth question this minute, on either replica
            with pytest.raises(NotNow) as refused:
                await ask(replica, "UHASTY")
            assert 1 <= refused.value.retry_after <= 60
            assert "3 questions in the last minute" in refused.value.note
            assert f"try again in {refused.value.retry_after} s" in refused.value.note
        await ask(two, "UPATIENT")  # nobody else is held back

    asyncio.run(story())


def test_a_full_answer_queue_turns_a_new_question_away_at_once(redis_server):
    (admission,) = admissions(redis_server, 1, answer_queue=2)

    async def story() -> None:
        release = asyncio.Event()

        async def slow(user: str) -> None:
            async with admission.admit(user):
                await release.wait()

        waiting = [asyncio.create_task(slow(user)) for user in ("U1", "U2")]
        await asyncio.sleep(0.05)
        with pytest.raises(NotNow) as refused:
            await ask(admission, "U3")
        assert "answering a lot of questions" in refused.value.note
        assert refused.value.retry_after >= 5
        release.set()
        await asyncio.gather(*waiting)
        await ask(admission, "U3")  # room again

    asyncio.run(story())
