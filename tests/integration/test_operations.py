"""What an operator sees of the workers: Prometheus metrics and JSON log lines."""

from __future__ import annotations

import gc
import json

import httpx
from processes import celery_worker, wait_for
from scrape import scrape, value
from test_sources import with_sources, write_sources

from indexing import compose
from indexing.infra.local_services import free_port
from indexing.sync import steps


def test_a_worker_counts_syncs_of_all_its_processes_and_logs_json_with_run_and_batch(
    settings, settings_env, shared_database, tmp_path, monkeypatch
):
    sources = write_sources(tmp_path / "sources.yml", "http://unused")
    config = with_sources(settings, sources, database_url=shared_database)
    port = free_port()
    env = {
        **settings_env,
        "KNOWHERE_DATABASE_URL": shared_database,
        "KNOWHERE_SOURCES_FILE": str(sources),
        "KNOWHERE_SYNC_BATCH_SIZE": "1",  # several batches: both pool processes get some
        "KNOWHERE_METRICS_PORT": str(port),
        "KNOWHERE_LOG_FORMAT": "json",
    }
    for key, val in env.items():
        if key.startswith("KNOWHERE_"):
            monkeypatch.setenv(key, val)
    from workers.celery_app import make_app

    app = make_app()
    runs = compose.open_sync_runs(config)
    log_path = tmp_path / "worker.log"
    with celery_worker("indexing", env, log_path, processes=2):
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"ok": True}
        before = scrape(metrics)
        finished = {}
        for name in ("jira", "zendesk"):
            started = app.send_task("knowhere.sync_source", args=[name]).get(timeout=120)
            finished[name] = steps.wait_for(runs, started["run"], timeout=300)
        after = wait_for(
            lambda: (
                (s := scrape(metrics))
                and value(
                    s,
                    "knowhere_sync_runs_total",
                    source="zendesk",
                    kind="incremental",
                    status="finished",
                )
                == 1
                and s
            ),
            timeout=30,
        )
    runs.close()

    for name, run in finished.items():
        assert run is not None and run.status == "finished"
        for result in ("added", "updated", "unchanged", "deleted", "failed"):
            counted = value(after, "knowhere_sync_documents_total", source=name, result=result)
            assert counted == getattr(run.counts, result), (name, result)
    batches = sum(run.batches for run in finished.values())
    assert batches >= 4
    # Each batch was timed, in whichever pool process ran it: all are summed in one scrape.
    timed = value(after, "knowhere_task_seconds_count", task="knowhere.sync_batch", state="SUCCESS")
    assert timed == batches
    assert (
        value(before, "knowhere_task_seconds_count", task="knowhere.sync_batch", state="SUCCESS")
        == 0
    )
    # Shared state, read when scraped.
    for queue in ("indexing", "answers", "training"):
        assert ("knowhere_queue_depth", (("queue", queue),)) in after
    assert value(after, "knowhere_feedback_pairs", label="positive") == 0

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    batch_lines = [line for line in lines if "batch" in line and "run" in line]
    assert {line["run"] for line in batch_lines} == {run.id for run in finished.values()}
    assert all(line["task"] == "knowhere.sync_batch" for line in batch_lines)
    assert all({"time", "level", "name", "message"} <= set(line) for line in lines)
    assert "@example.com" not in log_path.read_text()  # people in the tickets stay out
    del started
    gc.collect()
