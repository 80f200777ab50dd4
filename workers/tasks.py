"""Celery tasks. Each takes plain ids/paths, calls `indexing`, and is safe to run twice."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Task, group

from indexing import learning, sync, wiring
from indexing.access import Audience
from indexing.answerservice import AnswerService, Turn
from indexing.embedding import SentenceEmbedder
from indexing.errors import KnowhereError, ServiceUnavailable
from indexing.pipeline import Indexer
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


# Sources: a sync fans out into one task per batch; the batch that completes the run finishes
# it (prune, totals, lock). No chord: a failed batch is recorded as failed instead of leaving
# a callback hanging, and batches may run on any worker in any order.


@functools.cache
def _embedder(model: str) -> SentenceEmbedder:
    """One embedder per worker process and model (loading it is the slow part of a batch)."""
    return wiring.build_embedder(Settings(), model)


@contextmanager
def _sync_env(name: str) -> Iterator[tuple[sync.SyncEnv, Indexer]]:
    settings = Settings()
    with sync.open_env(settings, name) as env, connect(settings) as client:
        embedder = _embedder(settings.embed_model)
        yield env, wiring.build_indexer(client, settings, name, embedder)


@app.task(
    name="knowhere.sync_source",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def sync_source(name: str, full: bool = False) -> dict[str, object]:
    """Plan a sync of one source and send its batches to the workers."""
    settings = Settings()
    with sync.open_env(settings, name) as env:
        try:
            run_id, batches = sync.begin(env, full)
        except sync.Busy as busy:
            return {"status": "skipped", "reason": str(busy)}
    if batches:
        group(sync_batch.s(name, run_id, n, payload) for n, payload in enumerate(batches)).delay()
    else:
        finish_sync.delay(name, run_id)
    return {"status": "started", "run": run_id, "batches": len(batches)}


@app.task(name="knowhere.sync_batch", bind=True, max_retries=4)
def sync_batch(
    self: Task, name: str, run_id: str, number: int, payload: dict[str, Any]
) -> dict[str, object]:
    """Fetch and index one batch (idempotent: delivered twice, it is recorded once)."""
    with _sync_env(name) as (env, indexer):
        try:
            last = sync.run_batch(env, indexer, run_id, number, payload)
        except (KnowhereError, OSError) as err:
            if self.request.retries < self.max_retries:
                raise self.retry(exc=err, countdown=min(600, 10 * 2**self.request.retries)) from err
            last = sync.fail_batch(env, run_id, number, payload, str(err))
    if last:
        finish_sync.delay(name, run_id)
    return {"run": run_id, "batch": number, "last": last}


@app.task(
    name="knowhere.finish_sync",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def finish_sync(name: str, run_id: str) -> dict[str, object]:
    """Prune (full runs), total the run's counts, release the source's lock."""
    with _sync_env(name) as (env, indexer):
        run = sync.finish(env, indexer, run_id)
    return run.as_dict() if run else {"run": run_id, "status": "unknown"}
