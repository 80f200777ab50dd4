"""Knowhere's Prometheus metrics: one list of names, labels and buckets for every process.

Labels name surfaces, sources, queues, tasks and outcomes — never a question, a user or a
document, so a scrape reveals nothing a chat member said or may read. Counters and histograms
are updated where the event happens (the bots, the workers, the answer log); the gauges of
shared state (queue depths, the serving embedder, feedback pairs) are read from Redis and the
database when Prometheus scrapes, by `SharedStateCollector`.

Celery's prefork workers run in several processes: `multiprocess_registry()` collects what all
of them wrote (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answers take from tens of milliseconds (retrieval only) to a minute (a slow LLM).
ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
TASK_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)

ANSWER_SECONDS = Histogram(
    "knowhere_answer_seconds",
    "Time from a question to its answer, as the asker waits for it.",
    ["surface", "generator"],
    buckets=ANSWER_BUCKETS,
)
ANSWER_OUTCOMES = Counter(
    "knowhere_answer_outcomes",
    "Answers by outcome: found, not_found, failed; votes up, down, withdrawn.",
    ["surface", "outcome"],
)
SYNC_RUNS = Counter(
    "knowhere_sync_runs", "Finished source syncs by status.", ["source", "kind", "status"]
)
SYNC_DOCUMENTS = Counter(
    "knowhere_sync_documents",
    "Documents handled by source syncs, by result (added, updated, unchanged, deleted, failed).",
    ["source", "result"],
)
TASK_SECONDS = Histogram(
    "knowhere_task_seconds",
    "Celery task durations (a sync batch is knowhere.sync_batch), by final state.",
    ["task", "state"],
    buckets=TASK_BUCKETS,
)
TRAINING_RUNS = Counter(
    "knowhere_training_runs",
    "Runs of the feedback loop by verdict (skipped, rejected, candidate, promoted).",
    ["verdict"],
)
SERVICE_ERRORS = Counter(
    "knowhere_service_errors",
    "Failures reaching a backing service (Weaviate, Redis, PostgreSQL, an LLM server).",
    ["service"],
)

# What a vote's label means in ANSWER_OUTCOMES.
VOTE_OUTCOMES = {1: "up", -1: "down"}


class FinishedRun(Protocol):
    source: str
    full: bool
    status: str
    counts: Any


def count_sync_run(run: FinishedRun) -> None:
    """A finished sync run's status and its documents by result."""
    SYNC_RUNS.labels(run.source, "full" if run.full else "incremental", run.status).inc()
    for result in ("added", "updated", "unchanged", "deleted", "failed"):
        SYNC_DOCUMENTS.labels(run.source, result).inc(getattr(run.counts, result))


def answer_outcome(found: bool) -> str:
    return "found" if found else "not_found"


def multiprocess_registry(directory: str) -> CollectorRegistry:
    """A registry that sums what every process writing into `directory` counted."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


@dataclass(frozen=True)
class SharedState:
    """Readers of shared state, each called at scrape time (so each must be quick)."""

    queue_depths: Callable[[], dict[str, int]]
    serving_version: Callable[[], tuple[str, str] | None]  # (index, version)
    feedback_pairs: Callable[[], dict[str, int]]  # label ("positive", "negative") → count


class SharedStateCollector(Collector):
    """Gauges of state every host shares, read when Prometheus scrapes. A reader that fails
    is counted as that service's error and its gauge left out; the rest are still served."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        depths = self._read("Redis", self.state.queue_depths)
        if depths is not None:
            yield _gauge(
                "knowhere_queue_depth",
                "Tasks waiting in each Celery queue.",
                "queue",
                depths,
            )
        serving = self._read("database", self.state.serving_version)
        if serving is not None:
            gauge = GaugeMetricFamily(
                "knowhere_serving_embedder",
                "The embedder version that serves each index (1 for the serving one).",
                labels=["index", "version"],
            )
            gauge.add_metric(list(serving), 1)
            yield gauge
        pairs = self._read("database", self.state.feedback_pairs)
        if pairs is not None:
            yield _gauge(
                "knowhere_feedback_pairs",
                "(query, passage, label) pairs from active votes, the fine-tuning data.",
                "label",
                pairs,
            )

    @staticmethod
    def _read(service: str, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except Exception as err:  # noqa: BLE001 - a scrape must not fail because one read did
            SERVICE_ERRORS.labels(service).inc()
            log.warning("metrics: could not read %s: %s", service, type(err).__name__)
            return None


def _gauge(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        gauge.add_metric([key], value)
    return gauge


def queue_depths(llen: Callable[[str], int], queues: Sequence[str]) -> dict[str, int]:
    """Waiting tasks per Celery queue on Redis (each queue is a list named after it)."""
    return {queue: int(llen(queue)) for queue in queues}


def multiprocess_directory() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
