"""Celery tasks. Each takes plain ids/paths, calls `indexing`, and is safe to run twice."""

from __future__ import annotations

import functools
from pathlib import Path

from indexing import learning, wiring
from indexing.access import Audience
from indexing.answerservice import AnswerService, Turn
from indexing.errors import ServiceUnavailable
from indexing.settings import Settings
from indexing.store import connect

from .celery_app import app


@app.task(
    name="knowhere.index_folder",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def index_folder(path: str, source: str | None = None) -> dict[str, object]:
    """Index a folder (idempotent: deterministic chunk ids, unchanged files skipped)."""
    report = wiring.index_folder(Settings(), Path(path), source)
    return report.as_dict()


@functools.cache
def _answer_service() -> AnswerService:
    """One answer service per worker process: the model and the connection stay loaded."""
    settings = Settings()
    return wiring.build_answer_service(connect(settings), settings)


@app.task(
    name="knowhere.answer",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def answer(question: str, audience: dict, history: list[dict]) -> dict[str, object]:
    """Answer for a bot (`answers` queue): the audience's permissions apply."""
    turns = [Turn(t["role"], t["text"]) for t in history]
    result = _answer_service().ask(question, Audience.from_dict(audience), turns)
    return result.as_dict()


@app.task(
    name="knowhere.train_embedder",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def train_embedder(promote: bool | None = None) -> dict[str, object]:
    """One turn of the feedback loop (`training` queue): train, judge, maybe promote."""
    settings = Settings()
    try:
        with connect(settings) as client:
            return learning.train(settings, client, promote).as_dict()
    except learning.Busy as busy:
        return {"status": "skipped", "reason": str(busy)}


@app.task(name="knowhere.maybe_train_embedder")
def maybe_train_embedder() -> dict[str, object]:
    """Scheduled by beat: start a training run when enough new feedback or time has passed."""
    due, reason = learning.due(Settings())
    if due:
        train_embedder.delay()
    return {"due": due, "reason": reason}


@app.task(
    name="knowhere.promote_embedder",
    autoretry_for=(ServiceUnavailable, learning.Busy),
    retry_backoff=30,
    max_retries=8,
)
def promote_embedder(version: str) -> dict[str, object]:
    """Re-embed into a new collection and switch the alias. Killed half-way, the redelivered
    task resumes: chunks already in the new collection are not embedded again."""
    settings = Settings()
    with connect(settings) as client:
        return learning.promote(settings, client, version).as_dict()
