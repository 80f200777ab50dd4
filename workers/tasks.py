"""Celery tasks. Each takes plain ids/paths, calls `indexing`, and is safe to run twice."""

from __future__ import annotations

import functools
from pathlib import Path

from indexing import wiring
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
