"""Verified answers in the bots: who may verify (the experts group), verifying and withdrawing.

Both bots offer *Verify* on their answers when `KNOWHERE_EXPERTS_GROUP` is set. Only members
of that group (as the directory knows them now) may verify an answer, optionally editing its
text, or withdraw a verified one; anyone else is told so and nothing changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from indexing import (
    WITHDRAWN,
    AnswerLog,
    ChunkStore,
    Principal,
    Settings,
    VerificationRefused,
    VerifiedAnswers,
    compose,
    verify_answer,
)

NOT_FOUND = "I can't find that answer any more."


@dataclass(frozen=True)
class Experts:
    group: str
    answers: VerifiedAnswers
    days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Experts | None:
        if not settings.experts_group:
            return None
        answers = compose.open_verified_answers(settings)
        return cls(settings.experts_group.strip().lower(), answers, settings.verified_days)

    def is_expert(self, principal: Principal | None) -> bool:
        return principal is not None and self.group in principal.groups

    @property
    def not_an_expert(self) -> str:
        return f"Only members of the {self.group} group can verify answers or withdraw them."

    async def verify(
        self,
        answer_log: AnswerLog,
        store: ChunkStore,
        answer_id: str,
        text: str | None,
        user: str,
        name: str,
    ) -> str:
        """Verify answer `answer_id` for `user` (an expert: the caller checked) with `text`
        (None: the answer's own); the note to show them."""
        stored = await asyncio.to_thread(answer_log.get, answer_id)
        if stored is None:
            return NOT_FOUND
        try:
            await asyncio.to_thread(
                verify_answer,
                self.answers,
                store,
                stored,
                stored.answer.text if text is None else text,
                user,
                name,
                self.days,
            )
        except VerificationRefused as refused:
            return str(refused)
        return (
            f"Verified. Questions that mean the same get it first for {self.days} days, or "
            "until one of its sources changes, for people who may read its sources."
        )

    async def withdraw(self, verified_id: str, user: str) -> str:
        ended = await asyncio.to_thread(self.answers.end, verified_id, user, WITHDRAWN)
        if not ended:
            return "That verified answer was already withdrawn or has expired."
        return "Withdrawn: questions get the usual answer again."
