"""Each worker's Prometheus endpoint (KNOWHERE_METRICS_PORT), fed by Celery's signals, and
its liveness probe on the same port (GET /healthz: the worker's main process answers).

The worker's main process serves what all its pool processes counted (prometheus_client's
multiprocess mode, in the folder `workers/__init__.py` names before anything is imported),
plus the gauges of shared state read at scrape time: queue depths from Redis, the serving
embedder and the feedback pairs from the database.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import signals
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.multiprocess import mark_process_dead

from indexing import ServiceUnavailable, Settings, StoreError, compose, queues
from indexing.observability.metrics import (
    SERVICE_ERRORS,
    TASK_SECONDS,
    SharedState,
    SharedStateCollector,
    multiprocess_directory,
    multiprocess_registry,
    queue_depths,
)

log = logging.getLogger(__name__)
_started: dict[str, float] = {}  # task id → perf_counter at prerun (per pool process)


def shared_state(settings: Settings) -> SharedState:
    def depths() -> dict[str, int]:
        with closing(compose.open_redis(settings)) as client:
            return queue_depths(
                lambda queue: int(client.llen(queue)),  # type: ignore[arg-type]
                [queues.INDEXING, queues.ANSWERS, queues.TRAINING],
            )

    def serving() -> tuple[str, str] | None:
        registry = compose.open_registry(settings)
        switches = registry.switches(settings.collection)
        if switches:
            return settings.collection, switches[-1].to_version
        base = [v for v in registry.versions() if v.status == "base"]
        return (settings.collection, base[0].version) if base else None

    def pairs() -> dict[str, int]:
        with closing(compose.open_answer_log(settings)) as answer_log:
            return answer_log.pair_counts()

    return SharedState(depths, serving, pairs)


def serve(settings: Settings) -> None:
    """Start the endpoint (in the worker's main process, before the pool forks)."""
    directory = multiprocess_directory()
    if settings.metrics_port is None or directory is None:
        return
    for stale in Path(directory).glob("*.db"):  # counts of an earlier run of this worker
        stale.unlink()
    registry = multiprocess_registry(directory)
    registry.register(SharedStateCollector(shared_state(settings)))
    server = make_server(
        settings.metrics_host,
        settings.metrics_port,
        endpoints(registry),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)


def endpoints(registry: CollectorRegistry) -> Callable[..., Iterable[bytes]]:
    """WSGI: /healthz answers at once (no service is asked); anything else is the metrics."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"ok": true}']
        return metrics(environ, start_response)

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes and probes are not worth a log line each."""


@signals.worker_init.connect
def start_metrics(**_: Any) -> None:
    serve(Settings())


@signals.worker_process_shutdown.connect
def forget_process(pid: int | None = None, **_: Any) -> None:
    if multiprocess_directory():
        mark_process_dead(pid or os.getpid())


@signals.worker_shutdown.connect
def remove_metrics_folder(**_: Any) -> None:
    directory = multiprocess_directory()
    if directory and os.environ.get("KNOWHERE_METRICS_DIR_OWNED") == directory:
        shutil.rmtree(directory, ignore_errors=True)


@signals.task_prerun.connect
def task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def task_ended(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _started.pop(task_id or "", None)
    if started is not None and task is not None:
        TASK_SECONDS.labels(task.name, state or "UNKNOWN").observe(time.perf_counter() - started)


@signals.task_failure.connect
@signals.task_retry.connect
def count_service_error(exception: BaseException | None = None, **extra: Any) -> None:
    error = exception or getattr(extra.get("reason"), "exc", None) or extra.get("reason")
    if isinstance(error, ServiceUnavailable):
        SERVICE_ERRORS.labels(error.service).inc()
    elif isinstance(error, StoreError):
        SERVICE_ERRORS.labels("Weaviate").inc()
