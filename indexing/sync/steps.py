"""Sync a source into the index: plan, index batch by batch, then prune and record the run.

The three steps are plain functions so that they run the same way in one process (`knowhere
sources sync`) and spread over Celery workers (`sync_source` → one task per batch → finish).

- One sync per source at a time: a Redis lock held by the run (its token is in the run
  record), renewed while any of its batches works, so a killed worker frees it within
  `KNOWHERE_SYNC_LOCK_SECONDS` and the next run abandons the dead one and starts afresh.
- Batches are idempotent: chunk ids are deterministic, unchanged documents are skipped by
  their content hash, and a batch's outcome is recorded once even if it is delivered twice.
- Every run lists the whole source: incremental runs fetch what changed, rewrite access lists
  that changed without an edit in place, and prune what the source no longer holds; full runs
  fetch everything. A listing that is incomplete (a file that cannot be read) or empty never
  prunes.
- A listing source (Confluence) plans batches of ids that the batches fetch; an export (ticket
  files) is read once by the planner and its changed documents are staged for the batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from ..errors import Busy, KnowhereError
from ..failures import Failure
from ..infra.leases import LeaseLost
from ..ingest.documents import indexed_version
from ..ingest.indexer import Indexer
from ..observability.metrics import count_sync_run
from ..progress import Progress
from ..sources.interfaces import Connector, ExportConnector, Loaded, Plan
from ..sources.tickets.pairs import TicketPairs
from ..store.hashes import DocHashStore, SourceVersions
from .lock import SourceLock
from .runs import Counts, Run, SyncRuns
from .staging import RunStaging

log = logging.getLogger(__name__)


@dataclass
class SyncContext:
    """What a sync of one source works with (opened by the composition root)."""

    source: str
    connector: Connector
    runs: SyncRuns
    redis: redis.Redis
    hashes: DocHashStore
    versions: SourceVersions
    lock: SourceLock
    open_pairs: Callable[[], TicketPairs]
    batch_size: int = 50
    # The groups the source's directory snapshot knows (None: no snapshot to compare with).
    known_groups: Callable[[], set[str] | None] = lambda: None
    # The chunking settings' fingerprint: an export's documents chunked otherwise are redone.
    chunking: str = ""
    _pairs: TicketPairs | None = field(default=None, init=False, repr=False)

    @property
    def pairs(self) -> TicketPairs:
        if self._pairs is None:
            self._pairs = self.open_pairs()
        return self._pairs

    def staging(self, run_id: str) -> RunStaging:
        return RunStaging(self.redis, run_id)

    def close(self) -> None:
        self.connector.close()
        self.runs.close()
        if self._pairs is not None:
            self._pairs.close()


def _abort(context: SyncContext, run_id: str, token: str, err: BaseException) -> None:
    """Record the run as failed and free its source."""
    context.runs.finish(run_id, "failed", error=f"{type(err).__name__}: {err}")
    context.lock.release(token)


def _plan_export(context: SyncContext, run_id: str, connector: ExportConnector) -> Plan:
    """Read the export once; stage what changed for the batches, and the listing for prune."""
    export = connector.read()
    known = context.hashes.all()
    todo = [d for d in export.documents if known.get(d.id_) != indexed_version(d, context.chunking)]
    context.staging(run_id).stage(todo, export.pairs)
    ids = [d.id_ for d in todo]
    batches = [
        {"ids": ids[start : start + context.batch_size]}
        for start in range(0, len(ids), context.batch_size)
    ]
    listing = {d.id_ for d in export.documents} if export.complete else None
    return Plan(batches, export.failures, len(export.documents) - len(todo), listing)


def begin(context: SyncContext, full: bool) -> tuple[str, list[dict[str, Any]]]:
    """Take the source's lock, record a new run and plan its batches."""
    token = context.lock.acquire()
    if token is None:
        raise Busy(f"a sync of '{context.source}' is already running")
    run_id = context.runs.start(context.source, full, token)
    try:
        with context.lock.kept(token) as lease:  # listing a big space takes a while
            connector = context.connector
            if isinstance(connector, ExportConnector):
                plan = _plan_export(context, run_id, connector)
            else:
                accesses = {doc_id: i.access for doc_id, i in context.hashes.all().items()}
                plan = connector.plan(full, context.versions.all(), accesses)
            lease.check()
            context.staging(run_id).stage_listing(plan.listing)
            plan.failures += _unknown_groups(context, plan.groups)
            context.runs.planned(run_id, len(plan.batches), plan.failures, plan.unchanged)
    except Exception as err:
        _abort(context, run_id, token, err)
        raise
    return run_id, plan.batches


def _unknown_groups(context: SyncContext, named: set[str]) -> list[Failure]:
    """One report for the groups access lists name that the directory does not know: nobody
    reads through them (closed), which is worth knowing."""
    known = context.known_groups() if named else None
    unknown = sorted(named - known) if known is not None else []
    if not unknown:
        return []
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    return [
        Failure(
            f"groups {shown}",
            "named by access lists but unknown to the directory: nobody reads through them",
        )
    ]


def load(context: SyncContext, run_id: str, payload: dict[str, Any]) -> Loaded:
    """One batch's documents: fetched from the source, or from the run's staging area."""
    if isinstance(context.connector, ExportConnector):
        return context.staging(run_id).load(list(payload["ids"]))
    return context.connector.load(payload)


def _store(
    context: SyncContext, loaded: Loaded, indexer: Indexer, checkpoint: Callable[[], None]
) -> tuple[Counts, list[Failure]]:
    report = indexer.index(loaded.documents, prune=False, checkpoint=checkpoint)
    if loaded.access:
        checkpoint()
        report.access_updated += indexer.update_access(loaded.access)
    failed = {f.item for f in report.failed}
    context.versions.set_many({k: v for k, v in loaded.versions.items() if k not in failed})
    if loaded.pairs:
        context.pairs.add_many(loaded.pairs)
    errors = loaded.failures + report.failed
    counts = Counts(
        added=report.added,
        updated=report.updated + report.access_updated,
        unchanged=report.unchanged,
        failed=len(errors),
        embedded=report.texts_embedded,
    )
    return counts, errors


def run_batch(
    context: SyncContext,
    indexer: Indexer,
    run_id: str,
    number: int,
    payload: dict[str, Any],
    loaded: Loaded | None = None,
) -> bool:
    """Load and index one batch; True when it was the run's last one to finish.

    A batch of an abandoned run, or one already recorded, does nothing; one whose run the
    database does not know raises (a worker that does not share the planner's database).
    Once the run's lock is lost to a newer run the batch stops between writes.
    """
    token = context.runs.lock_token(run_id)
    if token is None:
        if context.runs.get(run_id) is None:
            raise KnowhereError(
                f"sync run {run_id} of '{context.source}' is unknown to this worker's database: "
                "every host must share one database (KNOWHERE_DATABASE_URL, PostgreSQL)"
            )
        return False
    if context.runs.batch_done(run_id, number):
        return False
    if not context.lock.hold(token):  # a newer run of this source took over
        log.warning("batch %s of run %s skipped: a newer run holds the source", number, run_id)
        return False
    try:
        with context.lock.kept(token) as lease:
            loaded = loaded or load(context, run_id, payload)
            lease.check()
            counts, errors = _store(context, loaded, indexer, lease.check)
    except LeaseLost as err:
        log.warning("batch %s of run %s stopped: %s", number, run_id, err)
        return False
    log.info(
        "%s: batch %s of run %s: %d added, %d updated, %d unchanged, %d failed",
        context.source,
        number,
        run_id,
        counts.added,
        counts.updated,
        counts.unchanged,
        counts.failed,
    )
    return context.runs.record_batch(run_id, number, counts, errors)


def fail_batch(
    context: SyncContext, run_id: str, number: int, payload: dict[str, Any], why: str
) -> bool:
    """Record a batch that could not be done at all (its items count as failed)."""
    items = payload.get("ids") or []
    errors = [Failure(f"batch {number}: {item}", why) for item in items] or [
        Failure(f"batch {number}", why)
    ]
    return context.runs.record_batch(run_id, number, Counts(failed=len(errors)), errors)


def finish(context: SyncContext, indexer: Indexer, run_id: str) -> Run | None:
    """Prune, total the counts and release the lock. Only the first caller acts."""
    token = context.runs.lock_token(run_id)
    run = context.runs.get(run_id)
    if token is None or run is None or not context.runs.claim_finish(run_id):
        return context.runs.get(run_id)
    try:
        deleted, problems = 0, []
        current = context.staging(run_id).listing()
        known = context.hashes.all()
        if current is None:
            problems.append(
                Failure(
                    context.source,
                    "the listing was incomplete (a page, file or record could not be read): "
                    "nothing was pruned",
                )
            )
        elif not current and known:
            problems.append(
                Failure(context.source, "the source listed no documents: nothing was pruned")
            )
        else:
            with context.lock.kept(token):  # a big prune takes a while
                _, deleted = indexer.prune(current, known)
            context.versions.delete([d for d in context.versions.all() if d not in current])
        context.runs.finish(run_id, "finished", deleted=deleted, errors=problems)
    except Exception as err:
        context.runs.finish(run_id, "failed", error=f"{type(err).__name__}: {err}")
        failed = context.runs.get(run_id)
        if failed is not None:
            count_sync_run(failed)
        raise
    finally:
        context.staging(run_id).clear()
        context.lock.release(token)
    finished = context.runs.get(run_id)
    if finished is not None:  # once per run: only the first caller gets here
        count_sync_run(finished)
        log.info("%s: run %s %s", context.source, run_id, finished.status)
    return finished


def sync_here(
    context: SyncContext, indexer: Indexer, full: bool, progress: Progress | None = None
) -> Run | None:
    """A whole run in this process. The next batch is fetched and parsed while this one is
    embedded, so fetching overlaps with embedding instead of adding to it."""
    run_id, batches = begin(context, full)
    token = context.runs.lock_token(run_id) or ""
    try:  # each batch keeps the lock alive (run_batch)
        with ThreadPoolExecutor(1, thread_name_prefix="fetch") as pool:
            ahead: Future[Loaded] | None = None
            for number, payload in enumerate(batches):
                current = ahead or pool.submit(load, context, run_id, payload)
                ahead = None
                if number + 1 < len(batches):
                    ahead = pool.submit(load, context, run_id, batches[number + 1])
                try:
                    loaded = current.result()
                except KnowhereError as err:
                    fail_batch(context, run_id, number, payload, str(err))
                else:
                    run_batch(context, indexer, run_id, number, payload, loaded)
                if progress:
                    progress(number + 1, len(batches))
    except BaseException as err:
        if context.runs.claim_finish(run_id):
            _abort(context, run_id, token, err)
        raise
    return finish(context, indexer, run_id)


def wait_for(runs: SyncRuns, run_id: str, timeout: float, poll: float = 0.5) -> Run | None:
    """The run once it ended (finished, failed or abandoned), or as it is at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        run = runs.get(run_id)
        if run is not None and run.status not in ("running", "finishing"):
            return run
        if time.monotonic() > deadline:
            return run
        time.sleep(poll)
