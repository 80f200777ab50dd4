"""A Celery worker process indexes a folder handed to it through Redis."""

from __future__ import annotations

import asyncio
import gc
import shutil
import time
from pathlib import Path

import pytest
from conftest import ANSWER_KEY
from processes import celery_worker
from test_sources import write_sources

from bot.runner import CeleryRunner
from indexing import (
    AnswerRequest,
    Audience,
    ConfigError,
    GroupDirectory,
    compose,
    jobs,
    queues,
    sign_request,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def settings(settings, shared_database):
    """Workers share one database with whoever sends them work: PostgreSQL, never SQLite."""
    return settings.model_copy(update={"database_url": shared_database})


@pytest.fixture
def worker(settings_env, tmp_path, request):
    queue = getattr(request, "param", "indexing")
    with celery_worker(queue, settings_env, tmp_path / "worker.log") as process:
        yield process


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
    with compose.connect_weaviate(settings) as client:
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


def test_a_worker_a_sender_or_a_bot_on_one_hosts_sqlite_refuses_with_what_to_set(
    settings, tmp_path
):
    from processes import bot_env

    alone = settings.model_copy(update={"database_url": None})  # the default: SQLite
    env = bot_env(alone)
    with celery_worker("indexing", env, tmp_path / "sqlite-worker.log") as process:
        assert process.wait(timeout=120) != 0
    said = (tmp_path / "sqlite-worker.log").read_text()
    assert "needs a database that every host shares" in said and "KNOWHERE_DATABASE_URL" in said

    sources = write_sources(tmp_path / "sources.yml", "http://unused")
    with pytest.raises(ConfigError, match="--enqueue .* not SQLite"):
        jobs.enqueue_sync(alone.model_copy(update={"sources_file": sources}), "jira")
    with pytest.raises(ConfigError, match="KNOWHERE_ANSWER_RUNNER=celery needs a database"):
        CeleryRunner(alone)


def test_worker_is_configured_for_long_tasks_that_must_not_be_lost():
    from workers.celery_app import VISIBILITY_TIMEOUT_S, make_app

    conf = make_app().conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_S > 3600


def test_training_has_its_own_queue_and_beat_checks_hourly_whether_it_is_due():
    from workers.celery_app import make_app

    conf = make_app().conf
    tasks = ("train_embedder", "maybe_train_embedder", "promote_embedder", "clean_up_embedders")
    for task in tasks:
        assert conf.task_routes[f"knowhere.{task}"] == {"queue": "training"}
    entry = conf.beat_schedule["train-embedder-when-due"]
    assert entry["task"] == "knowhere.maybe_train_embedder"
    assert entry["schedule"].minute == {17} and len(entry["schedule"].hour) == 24
    daily = conf.beat_schedule["clean-up-embedders"]
    assert daily["task"] == "knowhere.clean_up_embedders" and daily["schedule"].hour == {3}


def test_beat_posts_the_gaps_digest_weekly_only_when_a_channel_is_set(settings):
    from workers.celery_app import make_app

    assert "post-gaps-digest" not in make_app(settings).conf.beat_schedule
    weekly = settings.model_copy(update={"gaps_digest_channel": "CDOCS"})
    entry = make_app(weekly).conf.beat_schedule["post-gaps-digest"]
    assert entry["task"] == "knowhere.post_gaps_digest"
    assert entry["schedule"].day_of_week == {1} and entry["schedule"].hour == {9}
    broken = weekly.model_copy(update={"gaps_digest_schedule": "every monday"})
    assert "post-gaps-digest" not in make_app(broken).conf.beat_schedule


@pytest.mark.parametrize("worker", ["answers"], indirect=True)
def test_bots_can_have_answers_computed_by_workers_on_the_answers_queue(
    settings, worker, knowledge_base, tmp_path
):
    shutil.copytree(FIXTURES / "kb-extra", knowledge_base, dirs_exist_ok=True)
    jobs.index_folder(settings, knowledge_base)
    groups = GroupDirectory.load(FIXTURES / "groups.yml")
    runner = CeleryRunner(settings)
    question = "What is the salary band for software engineers?"

    alice = asyncio.run(
        runner.ask(question, Audience.of([groups.principal("alice@northwind.example")]), [])
    )
    bob = asyncio.run(
        runner.ask(question, Audience.of([groups.principal("bob@northwind.example")]), [])
    )

    assert "kb:hr/salaries.md" in {c.doc_id for c in alice.citations}
    assert "kb:hr/salaries.md" not in {c.doc_id for c in bob.citations}
    assert alice.embedder.startswith("all-MiniLM-L6-v2@")
    # The result backend holds what the asker is shown: snippets, never whole passages.
    assert all(c.snippet and not c.text for c in alice.citations)
    # Asked by Alice in a channel with Bob: the answer is Bob's, and says Alice may read more.
    both = Audience.of([groups.principal(f"{n}@northwind.example") for n in ("alice", "bob")])
    alice_alone = Audience.of([groups.principal("alice@northwind.example")])
    in_channel = asyncio.run(runner.ask(question, both, [], alice_alone))
    assert "kb:hr/salaries.md" not in {c.doc_id for c in in_channel.citations}
    assert in_channel.more and not bob.more

    # Someone who can write to Redis but does not have the bots' key asks as Alice: refused.
    request = AnswerRequest(
        question, Audience.of([groups.principal("alice@northwind.example")]), []
    )
    for forged in (sign_request(b"a guess", request), [question, request.audience.to_dict(), []]):
        args = [forged] if isinstance(forged, dict) else forged
        sent = runner.app.send_task(queues.ANSWER, args=args, queue=queues.ANSWERS)
        with pytest.raises(Exception) as refused:  # noqa: PT011 - the worker's error, relayed
            sent.get(timeout=60)
        assert "85,000" not in str(refused.value)
        sent.forget()
    stale = sign_request(ANSWER_KEY.encode(), request, now=time.time() - 3600)
    sent = runner.app.send_task(queues.ANSWER, args=[stale], queue=queues.ANSWERS)
    with pytest.raises(Exception, match="old"):
        sent.get(timeout=60)
    sent.forget()
    # Celery logs tasks' arguments and results; an answer's question and passages stay out.
    logged = (tmp_path / "worker.log").read_text()
    assert "knowhere.answer[" in logged and "succeeded" in logged
    assert question not in logged and "85,000" not in logged
    del runner, sent
    gc.collect()  # drop Celery's result subscriptions while Redis still runs
