"""The `training` queue: fine-tuning, the gate and alias switches, one at a time
(`-Q training --concurrency 1`; a Redis lock also keeps runs of one index from overlapping)."""

from __future__ import annotations

from indexing import Busy, ServiceUnavailable, Settings, jobs, queues

from ..celery_app import app


@app.task(
    name=queues.TRAIN_EMBEDDER,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def train_embedder(promote: bool | None = None) -> dict[str, object]:
    """One turn of the feedback loop: train, judge, maybe promote."""
    try:
        return jobs.train(Settings(), promote).as_dict()
    except Busy as busy:
        return {"status": "skipped", "reason": str(busy)}


@app.task(name=queues.MAYBE_TRAIN_EMBEDDER)
def maybe_train_embedder() -> dict[str, object]:
    """Scheduled by beat: start a training run when enough new feedback or time has passed."""
    due, reason = jobs.training_due(Settings())
    if due:
        train_embedder.delay()
    return {"due": due, "reason": reason}


@app.task(
    name=queues.PROMOTE_EMBEDDER,
    autoretry_for=(ServiceUnavailable, Busy),
    retry_backoff=30,
    max_retries=8,
)
def promote_embedder(version: str) -> dict[str, object]:
    """Re-embed into a new collection and switch the alias. Killed half-way, the redelivered
    task resumes: chunks already in the new collection are not embedded again."""
    return jobs.promote(Settings(), version).as_dict()


@app.task(
    name=queues.CLEAN_UP_EMBEDDERS, autoretry_for=(ServiceUnavailable, Busy), retry_backoff=60
)
def clean_up_embedders() -> dict[str, object]:
    """Daily: remove collections and model archives unused for KNOWHERE_GC_GRACE_DAYS."""
    return jobs.clean_up(Settings()).as_dict()
