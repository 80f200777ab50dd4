"""Sync a source into the index: plan, index batch by batch, then prune and record the run.

The three steps are plain functions so that they run the same way in one process (`knowhere
sources sync`) and spread over Celery workers (`sync_source` → one task per batch → finish).

- One sync per source at a time: a Redis lock held by the run (its token is in the run
  record), renewed while any of its batches works, so a killed worker frees it within
  `KNOWHERE_SYNC_LOCK_SECONDS` and the next run abandons the dead one and starts afresh.
- Batches are idempotent: chunk ids are deterministic, unchanged documents are skipped by
  their content hash, and a batch's outcome is recorded once even if it is delivered twice.
- Incremental runs look at what changed since the last finished run started; full runs fetch
  everything (catching changed permissions) and prune what the source no longer holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import redis
from redis.exceptions import LockError

from .connectors import Connector, Loaded, open_connector
from .dochashes import DocHashStore, SourceVersions, connect_redis
from .errors import KnowhereError
from .pipeline import Indexer
from .renewal import renewing
from .settings import Settings
from .sources import SourceConfig, get_source
from .syncruns import Counts, Run, SyncRuns
from .ticketpairs import TicketPairs

Progress = Callable[[int, int], None]  # (batches done, batches in all)


class Busy(KnowhereError):
    """Another sync of the same source is running."""


class SourceLock:
    """The per-source lock: acquired by a run, renewed by whoever works for it."""

    def __init__(self, client: redis.Redis, source: str, ttl: int) -> None:
        self.client = client
        self.name = f"knowhere:sync-lock:{source}"
        self.ttl = ttl

    def _lock(self, token: str | None = None) -> Any:
        lock = self.client.lock(self.name, timeout=self.ttl, thread_local=False)
        if token is not None:
            lock.local.token = token.encode()
        return lock

    def acquire(self) -> str | None:
        lock = self._lock()
        return lock.local.token.decode() if lock.acquire(blocking=False) else None

    def hold(self, token: str) -> bool:
        """Renew the lock for `token`; take it again if it expired and nobody else has it."""
        try:
            self._lock(token).reacquire()
            return True
        except LockError:
            return bool(self.client.set(self.name, token, nx=True, px=self.ttl * 1000))

    def release(self, token: str) -> None:
        with suppress(LockError):  # expired, or already taken over by a newer run
            self._lock(token).release()

    def kept(self, token: str) -> AbstractContextManager[None]:
        """Keep renewing the lock while the block runs."""
        return renewing(lambda: self.hold(token), max(1.0, self.ttl / 3), "sync-lock")


@dataclass
class SyncEnv:
    """What a sync of one source works with (opened at the edge: CLI, Celery task)."""

    settings: Settings
    config: SourceConfig
    runs: SyncRuns
    redis: redis.Redis
    connector: Connector

    @property
    def lock(self) -> SourceLock:
        return SourceLock(self.redis, self.config.name, self.settings.sync_lock_seconds)

    @property
    def hashes(self) -> DocHashStore:
        return DocHashStore(self.redis, self.settings.collection, self.config.name)

    @property
    def versions(self) -> SourceVersions:
        return SourceVersions(self.redis, self.settings.collection, self.config.name)

    @cached_property
    def pairs(self) -> TicketPairs:
        return TicketPairs(self.settings.answer_log_url())

    def close(self) -> None:
        self.connector.close()
        self.runs.close()
        if "pairs" in self.__dict__:
            self.pairs.close()


def _abort(env: SyncEnv, run_id: str, token: str, err: BaseException) -> None:
    """Record the run as failed and free its source."""
    env.runs.finish(run_id, "failed", error=f"{type(err).__name__}: {err}")
    env.lock.release(token)


@contextmanager
def open_env(settings: Settings, name: str) -> Iterator[SyncEnv]:
    config = get_source(settings.sources_file, name)
    key = (
        settings.personal_data_key.get_secret_value().encode()
        if settings.personal_data_key
        else b""
    )
    connector = open_connector(config, settings.sync_batch_size, settings.personal_data, key)
    env = SyncEnv(
        settings,
        config,
        SyncRuns(settings.answer_log_url()),
        connect_redis(settings.redis_url),
        connector,
    )
    try:
        yield env
    finally:
        env.close()


def begin(env: SyncEnv, full: bool) -> tuple[str, list[dict[str, Any]]]:
    """Take the source's lock, record a new run and plan its batches."""
    lock = env.lock
    token = lock.acquire()
    if token is None:
        raise Busy(f"a sync of '{env.config.name}' is already running")
    run_id = env.runs.start(env.config.name, full, token)
    try:
        versions = env.versions.all()
        # Nothing known of this source in this index (new source, new collection): list all.
        since = None if full or not versions else env.runs.last_finished_start(env.config.name)
        plan = env.connector.plan(full, since, versions, env.hashes.all())
        env.runs.planned(run_id, len(plan.batches), plan.errors, plan.unchanged)
    except Exception as err:
        _abort(env, run_id, token, err)
        raise
    return run_id, plan.batches


def _store(env: SyncEnv, loaded: Loaded, indexer: Indexer) -> tuple[Counts, list[tuple[str, str]]]:
    report = indexer.index(loaded.documents, prune=False)
    failed = {doc_id for doc_id, _ in report.failed}
    env.versions.set_many({k: v for k, v in loaded.versions.items() if k not in failed})
    if loaded.pairs:
        env.pairs.add_many(loaded.pairs)
    errors = loaded.errors + report.failed
    counts = Counts(
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        failed=len(errors),
        embedded=report.texts_embedded,
    )
    return counts, errors


def run_batch(
    env: SyncEnv,
    indexer: Indexer,
    run_id: str,
    number: int,
    payload: dict[str, Any],
    loaded: Loaded | None = None,
) -> bool:
    """Load and index one batch; True when it was the run's last one to finish.

    A batch of an abandoned run, or one already recorded, does nothing.
    """
    token = env.runs.lock_token(run_id)
    if token is None or env.runs.batch_done(run_id, number):
        return False
    if not env.lock.hold(token):
        return False  # a newer run of this source took over
    with env.lock.kept(token):
        loaded = loaded or env.connector.load(payload)
        counts, errors = _store(env, loaded, indexer)
    return env.runs.record_batch(run_id, number, counts, errors)


def fail_batch(env: SyncEnv, run_id: str, number: int, payload: dict[str, Any], why: str) -> bool:
    """Record a batch that could not be done at all (its items count as failed)."""
    items = payload.get("ids") or [d["id"] for d in payload.get("documents", [])]
    errors = [(f"batch {number}: {item}", why) for item in items] or [(f"batch {number}", why)]
    return env.runs.record_batch(run_id, number, Counts(failed=len(errors)), errors)


def finish(env: SyncEnv, indexer: Indexer, run_id: str) -> Run | None:
    """Prune (full runs), total the counts and release the lock. Only the first caller acts."""
    token = env.runs.lock_token(run_id)
    run = env.runs.get(run_id)
    if token is None or run is None or not env.runs.claim_finish(run_id):
        return env.runs.get(run_id)
    try:
        deleted, problems = 0, []
        if run.full:
            current = env.connector.current()
            known = env.hashes.all()
            if not current and known:
                problems.append(
                    (env.config.name, "the source listed no documents: nothing was pruned")
                )
            else:
                _, deleted = indexer.prune(current, known)
                env.versions.delete([d for d in env.versions.all() if d not in current])
        env.runs.finish(run_id, "finished", deleted=deleted, errors=problems)
    except Exception as err:
        env.runs.finish(run_id, "failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        env.lock.release(token)
    return env.runs.get(run_id)


def sync_here(
    env: SyncEnv, indexer: Indexer, full: bool, progress: Progress | None = None
) -> Run | None:
    """A whole run in this process. The next batch is fetched and parsed while this one is
    embedded, so fetching overlaps with embedding instead of adding to it."""
    run_id, batches = begin(env, full)
    token = env.runs.lock_token(run_id) or ""
    try:  # each batch keeps the lock alive (run_batch)
        with ThreadPoolExecutor(1, thread_name_prefix="fetch") as pool:
            ahead: Future[Loaded] | None = None
            for number, payload in enumerate(batches):
                current = ahead or pool.submit(env.connector.load, payload)
                ahead = None
                if number + 1 < len(batches):
                    ahead = pool.submit(env.connector.load, batches[number + 1])
                try:
                    loaded = current.result()
                except KnowhereError as err:
                    fail_batch(env, run_id, number, payload, str(err))
                else:
                    run_batch(env, indexer, run_id, number, payload, loaded)
                if progress:
                    progress(number + 1, len(batches))
    except BaseException as err:
        if env.runs.claim_finish(run_id):
            _abort(env, run_id, token, err)
        raise
    return finish(env, indexer, run_id)


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
