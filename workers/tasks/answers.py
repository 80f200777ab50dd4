"""The `answers` queue: answers for the bots (KNOWHERE_ANSWER_RUNNER=celery)."""

from __future__ import annotations

import functools

from indexing import AnswerService, Audience, ServiceUnavailable, Settings, Turn, compose, queues

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
def answer(question: str, audience: dict, history: list[dict]) -> dict[str, object]:
    """Answer for a bot: the audience's permissions apply."""
    turns = [Turn(t["role"], t["text"]) for t in history]
    result = _answer_service().ask(question, Audience.from_dict(audience), turns)
    return result.as_dict()
