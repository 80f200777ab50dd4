"""The private "more": in a channel, the asker may read sources the others may not.

The channel's answer uses only what every member may read; the answer service says when the
asker may read relevant sources beyond it (`Answer.more`). The asker alone is then offered a
private answer (Slack: an ephemeral message in the thread; Teams: a 1:1 chat). The offer
names no source. Opening it answers the question again with the asker's own access, for the
asker only: a click by anyone else is refused. Both bots share these texts and that check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from indexing import Answer, AnswerLog, Audience, StoredAnswer

from .runner import AnswerRunner

MORE_LABEL = "More from sources only you can see"
MORE_OFFER = (
    "I found more in sources that not everyone there may read. Only you can see this message "
    "and the answer it gives you."
)
NOT_YOURS = "Only the person who asked can open this: it uses sources only they can see."
NOTHING_MORE = "You no longer see more than that channel does; its answer is all I have."


async def private_answer(
    runner: AnswerRunner,
    answer_log: AnswerLog,
    answer_id: str,
    user: str,
    audience_of_user: Callable[[], Awaitable[Audience]],
) -> tuple[StoredAnswer, Answer] | str:
    """The channel answer `answer_id` answered again for `user` with their own access, or the
    note to show them instead (not theirs to open; nothing found with their access now)."""
    stored = await asyncio.to_thread(answer_log.get, answer_id)
    if stored is None or stored.asker != user:
        return NOT_YOURS
    question = stored.answer.standalone_query or stored.answer.question
    private = await runner.ask(question, await audience_of_user(), [])
    if not private.found:
        return NOTHING_MORE
    return stored, private
