"""The `indexing` queue: folder indexing and source syncs.

A sync fans out into one task per batch; the batch that completes the run finishes it
(prune, totals, lock). No chord: a failed batch is recorded as failed instead of leaving a
callback hanging, and batches may run on any worker in any order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Task, group

from indexing import Busy, ServiceUnavailable, Settings, jobs, queues

from ..celery_app import app


@app.task(
    name=queues.INDEX_FOLDER,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def index_folder(path: str, source: str | None = None) -> dict[str, object]:
    """Index a folder (idempotent: deterministic chunk ids, unchanged files skipped)."""
    return jobs.index_folder(Settings(), Path(path), source).as_dict()


@app.task(
    name=queues.SYNC_SOURCE,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def sync_source(name: str, full: bool = False) -> dict[str, object]:
    """Plan a sync of one source and send its batches to the workers."""
    try:
        run_id, batches = jobs.plan_sync(Settings(), name, full)
    except Busy as busy:
        return {"status": "skipped", "reason": str(busy)}
    if batches:
        group(sync_batch.s(name, run_id, n, payload) for n, payload in enumerate(batches)).delay()
    else:
        finish_sync.delay(name, run_id)
    return {"status": "started", "run": run_id, "batches": len(batches)}


@app.task(name=queues.SYNC_BATCH, bind=True, max_retries=4)
def sync_batch(
    self: Task, name: str, run_id: str, number: int, payload: dict[str, Any]
) -> dict[str, object]:
    """Fetch and index one batch (idempotent: delivered twice, it is recorded once). Whatever
    fails is retried, then recorded as the batch's failure, so the run always ends."""
    settings = Settings()
    try:
        last = jobs.sync_batch(settings, name, run_id, number, payload)
    except Exception as err:  # noqa: BLE001 - any error: retry, then fail the batch, never hang
        if self.request.retries < self.max_retries:
            raise self.retry(exc=err, countdown=min(600, 10 * 2**self.request.retries)) from err
        last = jobs.fail_sync_batch(settings, name, run_id, number, payload, str(err))
    if last:
        finish_sync.delay(name, run_id)
    return {"run": run_id, "batch": number, "last": last}


@app.task(
    name=queues.SYNC_DIRECTORY,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def sync_directory(name: str) -> dict[str, object]:
    """Read a Confluence source's groups and members into the shared directory."""
    return jobs.sync_directory(Settings(), name).as_dict()


@app.task(
    name=queues.FINISH_SYNC,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def finish_sync(name: str, run_id: str) -> dict[str, object]:
    """Prune (full runs), total the run's counts, release the source's lock."""
    run = jobs.finish_sync(Settings(), name, run_id)
    return run.as_dict() if run else {"run": run_id, "status": "unknown"}
