"""Where answers are computed: in the bot process, or on Celery workers (`answers` queue).

Both bots (Slack, Teams) call `runner.ask(...)` from their event loop; the work never blocks
the loop, so acknowledgements stay fast while answers are being generated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from celery import Celery

from indexing import (
    Answer,
    AnswerRequest,
    AnswerService,
    Audience,
    ConfigError,
    ServiceUnavailable,
    Settings,
    Turn,
    compose,
    queues,
    sign_request,
)
from indexing.observability.logs import question_for_log
from indexing.observability.metrics import (
    ANSWER_OUTCOMES,
    ANSWER_SECONDS,
    SERVICE_ERRORS,
    answer_outcome,
)

ANSWER_TIMEOUT_S = 120
log = logging.getLogger("knowhere.bot")


class AnswerRunner(Protocol):
    async def ask(
        self,
        question: str,
        audience: Audience,
        history: Sequence[Turn],
        asker: Audience | None = None,
    ) -> Answer: ...


class InlineRunner:
    """Answers in this process, on `concurrency` worker threads; more questions wait their turn.

    Few threads on purpose: the model already uses every core for one question, and more
    threads only fight over the GIL with the event loop that acknowledges Slack's requests.
    """

    def __init__(self, service: AnswerService, concurrency: int = 1) -> None:
        self.service = service
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="answer")

    async def ask(
        self,
        question: str,
        audience: Audience,
        history: Sequence[Turn],
        asker: Audience | None = None,
    ) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool, self.service.ask, question, audience, list(history), asker
        )


class CeleryRunner:
    """Sends the question, signed, to the `answers` queue and waits for the worker's answer."""

    def __init__(self, settings: Settings) -> None:
        self.key = settings.answer_signing_bytes()
        if not self.key:
            raise ConfigError(
                "KNOWHERE_ANSWER_SIGNING_KEY is not set: the answer workers only answer "
                "requests signed with it (set the same secret on the bots and the workers)"
            )
        compose.shared_database_url(settings, "KNOWHERE_ANSWER_RUNNER=celery")
        self.app = Celery("knowhere-bot", broker=settings.redis_url, backend=settings.redis_url)
        self.app.conf.update(
            task_serializer="json", result_serializer="json", accept_content=["json"]
        )

    async def ask(
        self,
        question: str,
        audience: Audience,
        history: Sequence[Turn],
        asker: Audience | None = None,
    ) -> Answer:
        request = AnswerRequest(question, audience, list(history), asker)
        result = self.app.send_task(
            queues.ANSWER,
            args=[sign_request(self.key, request)],
            queue=queues.ANSWERS,
            expires=ANSWER_TIMEOUT_S,  # nobody waits for an answer after that
            argsrepr="[<signed answer request>]",  # what workers log: never the question
        )
        try:
            data = await asyncio.to_thread(result.get, timeout=ANSWER_TIMEOUT_S)
        finally:
            result.forget()  # delivered once: no need to keep it in Redis
        return Answer.from_dict(data)


class MeasuredRunner:
    """A runner whose answers are timed and counted for `surface` (slack, teams) in the
    Prometheus metrics: latency by generator, outcome found / not_found / failed."""

    def __init__(self, runner: AnswerRunner, surface: str, log_questions: bool = False) -> None:
        self.runner = runner
        self.surface = surface
        self.log_questions = log_questions

    async def ask(
        self,
        question: str,
        audience: Audience,
        history: Sequence[Turn],
        asker: Audience | None = None,
    ) -> Answer:
        started = time.perf_counter()
        try:
            answer = await self.runner.ask(question, audience, history, asker)
        except Exception as err:
            ANSWER_OUTCOMES.labels(self.surface, "failed").inc()
            if isinstance(err, ServiceUnavailable):
                SERVICE_ERRORS.labels(err.service).inc()
            raise
        seconds = time.perf_counter() - started
        answer = replace(answer, seconds=round(seconds, 4))  # the whole wait, queue included
        ANSWER_SECONDS.labels(self.surface, answer.generator).observe(seconds)
        ANSWER_OUTCOMES.labels(self.surface, answer_outcome(answer.found)).inc()
        log.info(
            "%s answer in %.2fs by %s, %s, %d sources; question %s",
            self.surface,
            seconds,
            answer.generator,
            answer_outcome(answer.found),
            len(answer.citations),
            question_for_log(question, self.log_questions),
        )
        return answer
