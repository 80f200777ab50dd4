"""The `answers` queue: answers for the bots (KNOWHERE_ANSWER_RUNNER=celery)."""

from __future__ import annotations

import functools

from indexing import AnswerService, ServiceUnavailable, Settings, compose, queues, verify_request

from ..celery_app import app


@functools.cache
def _answer_service() -> AnswerService:
    """One answer service per worker process: the model and the connection stay loaded."""
    settings = Settings()
    service = compose.build_answer_service(compose.connect_weaviate(settings), settings)
    service.warm_up()
    return service


@app.task(
    name=queues.ANSWER,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def answer(signed: dict) -> dict[str, object]:
    """Answer a bot's signed request with the audience's permissions. An unsigned, forged or
    stale request is refused (the task fails); the result holds what the asker is shown."""
    request = verify_request(Settings().answer_signing_bytes(), signed)
    result = _answer_service().ask(
        request.question, request.audience, request.history, request.asker
    )
    return result.as_shown().as_dict()
