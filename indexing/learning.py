"""The feedback loop: training set → fine-tune → gate → registry → re-embed and switch.

`train` is what `knowhere embedder train` and the `training` Celery queue run; `promote` and
`rollback` switch the index between registered versions. One training or switch per index
runs at a time (a Redis lock), so a scheduled run and a manual one never overlap.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import weaviate

from . import gate, wiring
from .chunking import embedding_text
from .dochashes import connect_redis
from .embedding import SentenceEmbedder
from .errors import ConfigError, KnowhereError
from .finetune import TrainParams, finetune
from .live import Generation
from .reembed import Progress, SwitchReport, switch_index
from .registry import EmbedderVersion, Registry, Switch
from .renewal import renewing
from .settings import Settings
from .store import ChunkStore, generation_name
from .ticketpairs import TicketPairs
from .trainingset import LabelledPair, TrainingSet, build

CORPUS_SAMPLE = 20_000


class Busy(KnowhereError):
    """Another training run or switch of this index is in progress."""


@dataclass
class TrainOutcome:
    """What one training run did and why."""

    status: str  # skipped, rejected, candidate, promoted
    reason: str
    training_set: dict[str, object] = field(default_factory=dict)
    run: dict[str, object] = field(default_factory=dict)
    verdict: dict[str, object] = field(default_factory=dict)
    version: str | None = None
    switch: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


LOCK_TTL_S = 120


@contextmanager
def exclusive(settings: Settings, index: str) -> Iterator[None]:
    """Hold the index's training lock, or raise Busy.

    The lock lives LOCK_TTL_S and is renewed while the holder runs, so a killed worker
    frees it within two minutes and a redelivered task can resume.
    """
    redis = connect_redis(settings.redis_url)
    lock = redis.lock(
        f"knowhere:training:{index}", timeout=LOCK_TTL_S, blocking=False, thread_local=False
    )
    if not lock.acquire():
        raise Busy(f"a training run or switch of '{index}' is already in progress")
    try:
        with renewing(lock.reacquire, LOCK_TTL_S / 4, "training-lock"):
            yield
    finally:
        lock.release()


def labelled_pairs(settings: Settings, serving: Generation) -> list[LabelledPair]:
    """Feedback pairs (passage text as the index embeds it now) and resolved-ticket pairs."""
    with closing(wiring.open_answer_log(settings)) as log:
        votes = log.pairs()
    stored = {hit.chunk_id: hit for hit in serving.store.fetch(list({p.chunk_id for p in votes}))}
    pairs = []
    for vote in votes:
        hit = stored.get(vote.chunk_id)
        text = embedding_text(hit.title, hit.heading, hit.text) if hit else vote.passage
        pairs.append(
            LabelledPair(
                vote.query,
                text,
                vote.chunk_id,
                vote.label,
                "feedback",
                # Cited passages share an answer vote; a source vote is about one passage.
                group="" if vote.via == "source" else vote.answer_id,
            )
        )
    with closing(TicketPairs(settings.answer_log_url())) as store:
        tickets = store.all()
    for ticket in tickets:
        passage_id = f"ticket:{ticket.source}:{ticket.ticket_id}"
        pairs.append(LabelledPair(ticket.question, ticket.resolution, passage_id, 1, "ticket"))
    return pairs


def corpus_sample(store: ChunkStore, limit: int = CORPUS_SAMPLE) -> dict[str, str]:
    """Up to `limit` chunks of the index (reservoir sample), as the embedder sees them."""
    sample: list[tuple[str, str]] = []
    rng = random.Random(7)
    for seen, chunk in enumerate(store.scan()):
        item = (chunk.id, embedding_text(chunk.title, chunk.heading, chunk.text))
        if len(sample) < limit:
            sample.append(item)
        else:
            slot = rng.randrange(seen + 1)
            if slot < limit:
                sample[slot] = item
    return dict(sample)


def serving_version(settings: Settings, client: weaviate.WeaviateClient) -> str:
    return _serving(client, settings).embedder.version


def _serving(client: weaviate.WeaviateClient, settings: Settings) -> Generation:
    wiring.open_store(client, settings, wiring.build_embedder(settings))  # exists, registered
    return wiring.live_index(client, settings).current(fresh=True)


def train(
    settings: Settings,
    client: weaviate.WeaviateClient,
    promote: bool | None = None,
    progress: Progress | None = None,
) -> TrainOutcome:
    """One turn of the loop. `promote` None follows KNOWHERE_AUTO_PROMOTE."""
    with exclusive(settings, settings.collection):
        return _train(
            settings, client, settings.auto_promote if promote is None else promote, progress
        )


def _train(
    settings: Settings,
    client: weaviate.WeaviateClient,
    promote: bool,
    progress: Progress | None,
) -> TrainOutcome:
    registry = wiring.open_registry(settings)
    serving = _serving(client, settings)
    current = registry.get(serving.embedder.version)
    if current is None:
        raise ConfigError(f"serving embedder {serving.embedder.version} is not registered")
    pairs = labelled_pairs(settings, serving)
    positives = sum(p.label > 0 for p in pairs)
    if positives < settings.train_min_pairs:
        return TrainOutcome(
            "skipped",
            f"{positives} positive pairs; training needs {settings.train_min_pairs} "
            "(KNOWHERE_TRAIN_MIN_PAIRS)",
        )
    training = build(pairs, serving.embedder.model, corpus_sample(serving.store))
    training.save(settings.data_dir / "training-sets")
    summary = {
        "version": training.version,
        "hash": training.content_hash,
        "feedback_pairs": sum(p.origin == "feedback" for p in pairs),
        **training.stats,
    }
    if not training.train:
        return TrainOutcome("skipped", "no training triplets after cleaning", summary)
    name = f"{Path(current.name).name.split('-ft-')[0]}-ft-{training.version.removeprefix('ts-')}"
    params = TrainParams(
        epochs=settings.train_epochs,
        learning_rate=settings.train_learning_rate,
        batch_size=settings.train_batch_size,
    )
    run = finetune(current.path, training.train, settings.models_dir / "finetuned" / name, params)
    candidate = wiring.load_embedder(settings, name, str(run.output))
    verdict = judge(settings, training, serving.embedder, candidate)
    entry = registry.add(
        EmbedderVersion(
            version=candidate.version,
            name=name,
            path=str(run.output),
            status="candidate" if verdict.promote else "rejected",
            parent=current.version,
            training_set=training.version,
            training_hash=training.content_hash,
            metrics={"gate": verdict.as_dict(), "training": run.as_dict(), "set": summary},
        )
    )
    outcome = TrainOutcome(
        entry.status,
        "passed the gate" if verdict.promote else "; ".join(verdict.reasons),
        summary,
        run.as_dict(),
        verdict.as_dict(),
        entry.version,
    )
    if verdict.promote and promote:
        outcome.switch = _promote(settings, client, entry.version, progress).as_dict()
        outcome.status = "promoted"
    return outcome


def judge(
    settings: Settings,
    training: TrainingSet,
    current: SentenceEmbedder,
    candidate: SentenceEmbedder,
) -> gate.Verdict:
    dev = gate.dev_set(training.dev, training.passages)
    guard = gate.guard_set(settings.guard_set)
    return gate.judge(
        gate.score(current.embed, dev),
        gate.score(candidate.embed, dev),
        gate.score(current.embed, guard),
        gate.score(candidate.embed, guard),
        settings.gate_margin,
        settings.gate_tolerance,
        settings.gate_separation_margin,
    )


def promote(
    settings: Settings,
    client: weaviate.WeaviateClient,
    version: str,
    progress: Progress | None = None,
) -> SwitchReport:
    """Re-embed the index with a registered version and switch to it (no downtime)."""
    with exclusive(settings, settings.collection):
        return _promote(settings, client, version, progress)


def _promote(
    settings: Settings,
    client: weaviate.WeaviateClient,
    version: str,
    progress: Progress | None = None,
    kind: str = "promote",
) -> SwitchReport:
    registry = wiring.open_registry(settings)
    entry = registry.get(version)
    if entry is None:
        raise ConfigError(f"no embedder version '{version}' (see `knowhere embedder list`)")
    serving = _serving(client, settings)
    before = serving.embedder.version
    index = settings.collection
    target = entry.collection or generation_name(index, version)
    embedder = wiring.embedder_for_version(settings, version)
    report = switch_index(
        client, index, target, embedder, wiring.write_gate(settings, index), progress
    )
    if before != version:
        _record(registry, index, kind, before, serving.store.name, entry, target, report)
    return report


def _record(
    registry: Registry,
    index: str,
    kind: str,
    before: str,
    before_collection: str,
    entry: EmbedderVersion,
    target: str,
    report: SwitchReport,
) -> None:
    previous = registry.get(before)
    if previous is not None:
        registry.update(before, status="retired", collection=before_collection)
    registry.update(entry.version, status="promoted", collection=target)
    registry.record_switch(
        Switch(
            index,
            kind,
            before,
            entry.version,
            before_collection,
            target,
            report.as_dict(),
            datetime.now(UTC),
        )
    )


def rollback(
    settings: Settings, client: weaviate.WeaviateClient, progress: Progress | None = None
) -> SwitchReport:
    """Switch back to the serving version's parent (its collection was kept)."""
    with exclusive(settings, settings.collection):
        registry = wiring.open_registry(settings)
        serving = _serving(client, settings)
        current = registry.get(serving.embedder.version)
        if current is None or current.parent is None:
            raise ConfigError(
                f"'{settings.collection}' serves {serving.embedder.version}, which has no "
                "earlier version to roll back to"
            )
        return _promote(settings, client, current.parent, progress, kind="rollback")


def due(settings: Settings, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the scheduler should train: enough new pairs, or the last run is old enough."""
    now = now or datetime.now(UTC)
    registry = wiring.open_registry(settings)
    trained = [v for v in registry.versions() if v.training_set]
    with closing(wiring.open_answer_log(settings)) as log:
        count = len(log.pairs())
    if not trained:
        if count >= settings.train_min_pairs:
            return True, f"{count} feedback pairs and no training yet"
        return False, f"{count} feedback pairs; the first training needs {settings.train_min_pairs}"
    last = trained[-1]
    seen = int(dict(last.metrics.get("set", {})).get("feedback_pairs", 0))
    new = count - seen
    if new >= settings.train_new_pairs:
        return True, f"{new} new feedback pairs since {last.training_set}"
    created = last.created_at or now
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = now - created
    if settings.train_every_days and age >= timedelta(days=settings.train_every_days) and new > 0:
        return True, f"last training {age.days} days ago, {new} new pairs"
    return False, f"{new} new pairs since {last.training_set}"
