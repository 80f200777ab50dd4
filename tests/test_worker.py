"""A Celery worker process indexes a folder handed to it through Redis."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from indexing.store import connect


@pytest.fixture
def worker(settings_env, tmp_path):
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "--pool",
            "solo",
            "--queues",
            "indexing",
            "--loglevel",
            "INFO",
        ],
        env=settings_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    process.wait(timeout=60)
    log.close()


def test_worker_indexes_a_folder_sent_as_a_task(
    settings, settings_env, worker, knowledge_base, monkeypatch
):
    for key, value in settings_env.items():
        if key.startswith("KNOWHERE_"):
            monkeypatch.setenv(key, value)
    from workers.celery_app import make_app

    app = make_app()
    result = app.send_task("knowhere.index_folder", args=[str(knowledge_base)])
    report = result.get(timeout=240)

    assert report["added"] == 7 and report["failed"] == []
    with connect(settings) as client:
        assert (
            client.collections.use(settings.collection)
            .aggregate.over_all(total_count=True)
            .total_count
            == report["chunks_written"]
        )

    second = app.send_task("knowhere.index_folder", args=[str(knowledge_base)])
    again = second.get(timeout=240)
    assert again["texts_embedded"] == 0 and again["unchanged"] == 7
    del result, second  # let Celery drop its result subscriptions while Redis still runs
    gc.collect()


def test_worker_is_configured_for_long_tasks_that_must_not_be_lost():
    from workers.celery_app import VISIBILITY_TIMEOUT_S, make_app

    conf = make_app().conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_S > 3600
