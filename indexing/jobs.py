"""The jobs the edges run: index a folder, sync a source, evaluate, train, promote, roll back.

The CLI, the Celery tasks and the benchmarks call these with the settings they read; each job
opens what it needs through the composition root and closes it again.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from . import compose, queues
from .access.directory import Snapshot
from .errors import Busy, ConfigError, KnowhereError
from .evaluation.alpha_sweep import choose_alpha, choose_store_alpha
from .evaluation.beir import load_beir
from .evaluation.metrics import score_run
from .evaluation.run import corpus_ids, eval_collection_name
from .ingest.indexer import IndexReport
from .insights import dashboard as dashboards
from .insights import gaps
from .insights.dashboard import Dashboard
from .insights.digest import digest_message
from .insights.outcomes import OutcomeReport, outcome_report
from .learning import loop
from .learning.cleanup import Cleanup
from .learning.loop import TrainOutcome
from .learning.registry import EmbedderVersion
from .learning.switch import SwitchReport
from .observability.logs import log_context
from .observability.metrics import TRAINING_RUNS
from .progress import Progress
from .search.fusion_weight import AlphaChoice
from .settings import Settings
from .sources.confluence.directory import read_directory
from .sources.folder import scan_folder
from .sources.sources_file import get_source
from .store.chunk_store import SearchMode
from .sync import steps
from .sync.runs import Run


def index_folder(
    settings: Settings, folder: Path, source: str | None = None, progress: Progress | None = None
) -> IndexReport:
    """Index every supported file below `folder` as one source (files gone are pruned)."""
    folder = folder.resolve()
    source = source or folder.name
    compose.open_redis(settings)  # fail fast, before any work, if Redis is down
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings)
        scan = scan_folder(folder, source, settings.max_file_bytes)
        indexer = compose.build_indexer(client, settings, source, embedder)
        report = indexer.index(scan.documents, prune=True, progress=progress, keep=scan.kept)
    report.skipped = scan.skipped
    return report


# Source syncs: in this process (`sync_source`) or as the Celery tasks' steps.


def sync_source(
    settings: Settings, name: str, full: bool = False, progress: Progress | None = None
) -> Run | None:
    """Sync one source of the sources file in this process and return its run record."""
    compose.open_redis(settings)  # fail fast, before any work, if Redis is down
    with (
        closing(compose.open_sync_context(settings, name)) as context,
        compose.connect_weaviate(settings) as client,
    ):
        indexer = compose.build_indexer(client, settings, name, compose.build_embedder(settings))
        return steps.sync_here(context, indexer, full, progress)


def enqueue_sync(settings: Settings, name: str, full: bool = False) -> str:
    """Send a sync of `name` to the workers (by task name); returns the task id."""
    from celery import Celery

    get_source(settings.sources_file, name)  # an unknown name fails here, not on a worker
    compose.shared_database_url(settings, "--enqueue (a sync on the Celery workers)")
    sender = Celery("knowhere", broker=settings.redis_url)
    result = sender.send_task(queues.SYNC_SOURCE, args=[name, full], queue=queues.INDEXING)
    return str(result.id)


def plan_sync(settings: Settings, name: str, full: bool) -> tuple[str, list[dict[str, Any]]]:
    """Start a run of `name`: its id and the batches to send to the workers (Busy if one runs)."""
    with closing(compose.open_sync_context(settings, name)) as context:
        return steps.begin(context, full)


def sync_batch(
    settings: Settings, name: str, run_id: str, number: int, payload: dict[str, Any]
) -> bool:
    """Index one batch of a run; True when it was the run's last batch to finish."""
    with (
        log_context(source=name, run=run_id, batch=number),
        closing(compose.open_sync_context(settings, name)) as context,
        compose.connect_weaviate(settings) as client,
    ):
        indexer = compose.build_indexer(client, settings, name, compose.build_embedder(settings))
        return steps.run_batch(context, indexer, run_id, number, payload)


def fail_sync_batch(
    settings: Settings, name: str, run_id: str, number: int, payload: dict[str, Any], why: str
) -> bool:
    """Record a batch that could not be done; True when it was the run's last one."""
    with (
        log_context(source=name, run=run_id, batch=number),
        closing(compose.open_sync_context(settings, name)) as context,
    ):
        return steps.fail_batch(context, run_id, number, payload, why)


def finish_sync(settings: Settings, name: str, run_id: str) -> Run | None:
    """Prune (full runs), total the run's counts, release the source's lock."""
    with (
        log_context(source=name, run=run_id),
        closing(compose.open_sync_context(settings, name)) as context,
        compose.connect_weaviate(settings) as client,
    ):
        indexer = compose.build_indexer(client, settings, name, compose.build_embedder(settings))
        return steps.finish(context, indexer, run_id)


def sync_directory(settings: Settings, name: str) -> Snapshot:
    """Read the groups and members of Confluence source `name` into the shared directory."""
    config = get_source(settings.sources_file, name)
    if not config.is_confluence:
        raise ConfigError(f"source '{name}' is not Confluence: it has no groups to read")
    with closing(compose.confluence_client(config)) as client:
        snapshot = read_directory(client, config.deployment, config.email_domain)
    with closing(compose.open_people_directory(settings)) as people:
        people.replace(name, snapshot)
    return snapshot


def sync_runs(settings: Settings, name: str | None = None, limit: int = 10) -> list[Run]:
    """The latest runs (of one source, or all), each with its failures."""
    with closing(compose.open_sync_runs(settings)) as runs:
        return [runs.get(run.id) or run for run in runs.latest(name, limit)]


# Evaluation.


def evaluate_dataset(
    settings: Settings,
    folder: Path,
    split: str = "test",
    model: str | None = None,
    mode: SearchMode = "hybrid",
    alpha: float | None = None,
    k: int = 10,
    tune_on: str | None = None,
) -> dict[str, object]:
    """Index a BEIR dataset's corpus into its own collection (once), then score the split.
    With `tune_on` (a split, such as dev), the collection's α is first chosen on it."""
    dataset = load_beir(folder, split)
    collection = eval_collection_name(dataset.name, model or settings.embed_model)
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings, model)
        indexer = compose.build_indexer(client, settings, dataset.name, embedder, collection)
        report = indexer.index(dataset.corpus, prune=True)
        retriever = compose.build_retriever(client, settings, embedder, collection)

        def ranked(query: str, weight: float | None) -> list[str]:
            found = retriever.search(query, top_k=k * 3, mode=mode, alpha=weight)
            return corpus_ids([hit.doc_id for hit in found.hits], dataset.name, k)

        serving, _ = retriever.current()
        choice = None
        if tune_on:
            dev = load_beir(folder, tune_on)
            origin = f"{dataset.name}/{tune_on}"
            choice = choose_alpha(ranked, dev.queries, dev.qrels, origin, retriever.alpha)
            compose.alpha_choices(settings).set(serving.name, choice)
        alpha = retriever.alpha_for(serving) if alpha is None else alpha
        metrics = score_run(
            {q: ranked(dataset.queries[q], alpha) for q in dataset.qrels}, dataset.qrels, k
        )
    return {
        "dataset": dataset.name,
        "split": split,
        "model": model or settings.embed_model,
        "precision": embedder.precision,
        "mode": mode,
        "alpha": alpha if mode == "hybrid" else None,
        "alpha_chosen_on": choice.ndcg_by_alpha if choice else None,
        "collection": collection,
        "corpus_indexed": {"embedded": report.texts_embedded, "unchanged": report.unchanged},
        **metrics,
    }


def tune_alpha(settings: Settings) -> AlphaChoice:
    """Choose the serving collection's α from 👍 feedback: each approved (question, document)
    is a judged question. Searched without an audience filter: only the score leaves.
    (Ticket pairs are not used: a ticket's own question is inside its document.)"""
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    log = compose.open_answer_log(settings)
    try:
        for pair in log.pairs():
            if pair.label > 0:
                key = " ".join(pair.query.lower().split())
                queries[key] = pair.query
                qrels.setdefault(key, {})[pair.doc_id] = 1
    finally:
        log.close()
    with compose.connect_weaviate(settings) as client:
        retriever = compose.build_retriever(client, settings, compose.build_embedder(settings))
        store, embedder = retriever.current()
        choice = choose_store_alpha(
            store, embedder, queries, qrels, "feedback", retriever.alpha, lambda hit: hit.doc_id
        )
        compose.alpha_choices(settings).set(store.name, choice)
    return choice


# Learning from feedback.


def _learning(settings: Settings, run: Any) -> Any:
    with (
        compose.connect_weaviate(settings) as client,
        closing(compose.learning_context(settings, client)) as context,
    ):
        return run(context)


def train(
    settings: Settings, promote: bool | None = None, progress: Progress | None = None
) -> TrainOutcome:
    """One turn of the feedback loop: train, judge, and (by default) promote."""
    try:
        outcome: TrainOutcome = _learning(settings, lambda c: loop.train(c, promote, progress))
    except Busy:
        TRAINING_RUNS.labels("skipped").inc()
        raise
    TRAINING_RUNS.labels(outcome.status).inc()
    return outcome


def promote(settings: Settings, version: str, progress: Progress | None = None) -> SwitchReport:
    """Re-embed the index with a registered version and switch to it (no downtime)."""
    report: SwitchReport = _learning(settings, lambda c: loop.promote(c, version, progress))
    return report


def rollback(settings: Settings, progress: Progress | None = None) -> SwitchReport:
    """Switch back to the serving version's parent (its collection was kept)."""
    report: SwitchReport = _learning(settings, lambda c: loop.rollback(c, progress))
    return report


def clean_up(settings: Settings, dry_run: bool = False) -> Cleanup:
    """Remove collections and model archives the index has not needed for the grace period
    (KNOWHERE_GC_GRACE_DAYS); the serving and previous ones always stay."""
    grace = timedelta(days=settings.gc_grace_days)
    cleanup: Cleanup = _learning(settings, lambda c: loop.clean_up(c, grace, dry_run))
    return cleanup


def serving_version(settings: Settings) -> str:
    version: str = _learning(settings, loop.serving_version)
    return version


def embedder_versions(settings: Settings) -> list[EmbedderVersion]:
    return compose.open_registry(settings).versions()


def knowledge_gaps(
    settings: Settings,
    since: timedelta = timedelta(days=30),
    now: datetime | None = None,
    min_size: int = gaps.MIN_SIZE,
    distance: float = gaps.DISTANCE,
    min_share: float = gaps.MIN_SHARE,
) -> gaps.GapReport:
    """The knowledge gaps of the answers given in the last `since` (see insights/gaps.py)."""
    until = now or datetime.now(UTC)
    start = until - since
    with (
        compose.connect_weaviate(settings) as client,
        closing(compose.open_answer_log(settings)) as answer_log,
    ):
        store, embedder = compose.serving_index(client, settings)
        low = compose.low_confidence(settings, embedder)
        asked = [a for a in answer_log.asked_since(start, low) if gaps.aware(a.at) <= until]
        asked = asked[-gaps.MAX_QUESTIONS :]
        vectors = np.asarray(embedder.embed([a.question for a in asked]), dtype=np.float32)
        chunk_ids = sorted({s.chunk_id for a in asked for s in a.sources})
        owners = {chunk.id: gaps.owner_of(chunk) for chunk in store.described(chunk_ids)}
    return gaps.find_gaps(
        asked, vectors, owners, low, start, until, embedder.version, distance, min_size, min_share
    )


def outcomes(
    settings: Settings, since: timedelta = timedelta(days=30), now: datetime | None = None
) -> OutcomeReport:
    """How the answers of the last `since` ended, per channel and per week."""
    until = now or datetime.now(UTC)
    start = until - since
    with closing(compose.open_answer_log(settings)) as answer_log:
        answers = [a for a in answer_log.signals_since(start) if gaps.aware(a.at) <= until]
    return outcome_report(answers, start, until)


def post_gaps_digest(settings: Settings, since: timedelta = timedelta(days=7)) -> dict[str, object]:
    """Post the last week's knowledge gaps to KNOWHERE_GAPS_DIGEST_CHANNEL (Slack)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    channel = settings.gaps_digest_channel
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if not channel or not token:
        raise ConfigError(
            "the gaps digest needs KNOWHERE_GAPS_DIGEST_CHANNEL and KNOWHERE_SLACK_BOT_TOKEN"
        )
    report = knowledge_gaps(settings, since)
    text, blocks = digest_message(report, settings.gaps_digest_details, settings.admin_url)
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=30)
    try:
        posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except SlackApiError as err:
        raise KnowhereError(
            f"Slack refused the gaps digest for channel {channel}: {err.response.get('error')}"
        ) from None
    return {"channel": channel, "ts": posted.get("ts"), "gaps": len(report.gaps)}


def dashboard(settings: Settings, since: timedelta = timedelta(days=30)) -> Dashboard:
    """What the admin page shows for the last `since`. The gap report needs Weaviate and the
    model: when it cannot be made, the rest is still shown with the reason."""
    until = datetime.now(UTC)
    start = until - since
    registry = compose.open_registry(settings)
    with (
        closing(compose.open_answer_log(settings)) as answer_log,
        closing(compose.open_sync_runs(settings)) as runs,
    ):
        answers = answer_log.answer_stats(start)
        votes = answer_log.vote_stats(start)
        sources = dashboards.latest_runs(runs.latest(limit=500))
    switches = registry.switches(settings.collection)
    versions = registry.versions()
    base = next((v.version for v in versions if v.status == "base"), None)
    report, problem = None, ""
    try:
        report = knowledge_gaps(settings, since, until)
    except KnowhereError as err:
        problem = str(err)
    seconds = [a.seconds for a in answers if a.seconds is not None]
    return Dashboard(
        since=start,
        until=until,
        days=dashboards.daily(answers, votes, start, until),
        answers=len(answers),
        not_found=sum(1 for a in answers if not a.found),
        up=sum(1 for v in votes if v.label > 0),
        down=sum(1 for v in votes if v.label < 0),
        latency=dashboards.percentiles(seconds),
        sources=sources,
        embedders=dashboards.embedder_bars(versions, switches),
        serving=switches[-1].to_version if switches else base,
        gaps=report,
        gaps_error=problem,
    )


def training_due(settings: Settings, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the scheduler should train now (or at `now`), and why."""
    with closing(compose.open_answer_log(settings)) as log:
        policy = compose.learning_policy(settings)
        return loop.due(compose.open_registry(settings), log, policy, now)
