"""The Celery application on the Redis broker, configured for long, must-not-lose tasks."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

from indexing import ConfigError, Settings, compose, load_sources, queues

from . import logs, metrics  # noqa: F401 - their Celery signal handlers connect on import

# Longest task we expect (a full re-index of a large source) is a few hours; Redis redelivers
# unacknowledged tasks after the visibility timeout, so it must be longer than that.
VISIBILITY_TIMEOUT_S = 12 * 3600


logger = logging.getLogger(__name__)

# `celery -A workers.celery_app beat`: check hourly whether enough new feedback (or time) has
# accumulated to train (KNOWHERE_TRAIN_NEW_PAIRS, KNOWHERE_TRAIN_EVERY_DAYS), and clean up daily.
TRAINING_SCHEDULE = {
    "train-embedder-when-due": {
        "task": queues.MAYBE_TRAIN_EMBEDDER,
        "schedule": crontab(minute="17"),
    },
    # Daily: collections and model archives unused for KNOWHERE_GC_GRACE_DAYS go.
    "clean-up-embedders": {
        "task": queues.CLEAN_UP_EMBEDDERS,
        "schedule": crontab(minute="43", hour="3"),
    },
}


def cron(expression: str) -> crontab:
    """A five-field cron expression (minute hour day-of-month month day-of-week)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(f"'{expression}' is not a cron expression of five fields")
    minute, hour, day_of_month, month, day_of_week = fields
    return crontab(minute, hour, day_of_week, day_of_month, month)


def source_schedules(settings: Settings) -> dict[str, dict[str, Any]]:
    """Beat entries for the sources file: an incremental and a full sync of each source, and
    a directory refresh (groups and members) of each Confluence source."""
    if settings.sources_file is None:
        return {}
    try:
        sources = load_sources(settings.sources_file)
    except ConfigError as err:  # answer and training workers must still start
        logger.error("no source syncs scheduled: %s", err)
        return {}
    entries: dict[str, dict[str, Any]] = {}
    for name, config in sources.items():
        runs: list[tuple[str, str | None, str, list[object]]] = [
            ("incremental", config.schedule.incremental, queues.SYNC_SOURCE, [name, False]),
            ("full", config.schedule.full, queues.SYNC_SOURCE, [name, True]),
        ]
        if config.is_confluence:  # groups and members, for every replica's directory
            runs.append(("directory", config.schedule.directory, queues.SYNC_DIRECTORY, [name]))
        for kind, expression, task, args in runs:
            if not expression:
                continue
            try:
                schedule = cron(expression)
            except (ConfigError, ValueError) as err:
                logger.error("source %s: %s schedule not used: %s", name, kind, err)
                continue
            entries[f"sync-{name}-{kind}"] = {"task": task, "schedule": schedule, "args": args}
    return entries


def digest_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The weekly knowledge-gap digest, when a channel is configured."""
    if not settings.gaps_digest_channel:
        return {}
    try:
        schedule = cron(settings.gaps_digest_schedule)
    except (ConfigError, ValueError) as err:
        logger.error("gaps digest not scheduled: KNOWHERE_GAPS_DIGEST_SCHEDULE: %s", err)
        return {}
    return {"post-gaps-digest": {"task": queues.POST_GAPS_DIGEST, "schedule": schedule}}


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("knowhere", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        include=[
            "workers.tasks.indexing",
            "workers.tasks.answers",
            "workers.tasks.training",
            "workers.tasks.insights",
        ],
        task_acks_late=True,  # a task killed mid-way is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long tasks: take one at a time
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        task_default_queue=queues.INDEXING,
        # Answers have their own queue and workers, so a long crawl never delays a question;
        # training and re-embedding are long and heavy: their own queue, one at a time.
        task_routes={task: {"queue": queue} for task, queue in queues.ROUTES.items()},
        beat_schedule={
            **TRAINING_SCHEDULE,
            **source_schedules(settings),
            **digest_schedule(settings),
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 24 * 3600,
        broker_connection_retry_on_startup=True,
    )
    return app


@signals.worker_init.connect
def refuse_a_database_of_one_host(**_: Any) -> None:
    """A worker on SQLite would keep its runs, registry and answers to itself: do not start.
    (SystemExit, because Celery logs and ignores any Exception a signal handler raises.)"""
    try:
        compose.shared_database_url(Settings(), "A Celery worker")
    except ConfigError as err:
        logger.critical("%s", err)
        raise SystemExit(f"knowhere: {err}") from None


app = make_app()
