"""The feedback loop: training set → fine-tune → gate → registry → re-embed and switch.

`train` is what `knowhere embedder train` and the `training` Celery queue run; `promote` and
`rollback` switch the index between registered versions. One training or switch per index
runs at a time (a Redis lock), so a scheduled run and a manual one never overlap.

Everything the loop works with arrives in a `LearningContext`, built by the composition root
from the settings, the way a sync gets its `SyncContext`.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import weaviate

from ..answers.log import AnswerLog
from ..embedding.embedder import SentenceEmbedder
from ..errors import Busy, ConfigError
from ..evaluation.alpha_sweep import choose_store_alpha
from ..infra.leases import Lease, release, renewing
from ..ingest.chunking import embedding_text
from ..progress import Progress
from ..search.fusion_weight import AlphaChoices
from ..search.tuning import default_alpha
from ..sources.tickets.pairs import TicketPairs
from ..store.alias import IndexAlias, ServingCollection
from ..store.chunk_store import ChunkStore
from ..store.schema import collection_name
from ..store.write_gate import WriteGate
from . import cleanup, gate
from .cleanup import Cleanup
from .document_pairs import document_pairs
from .finetune import TrainParams, finetune
from .model_store import Artifact, ModelStore
from .registry import EmbedderVersion, Registry, Switch
from .switch import SwitchReport, switch_index
from .training_set import LabelledPair, TrainingSet, build

CORPUS_SAMPLE = 20_000
LOCK_TTL_S = 120


@dataclass(frozen=True)
class LearningPolicy:
    """When to train and what a candidate must show (KNOWHERE_TRAIN_*, KNOWHERE_GATE_*)."""

    min_pairs: int = 20  # positive pairs needed before training at all
    # Until feedback has `min_pairs` positives, train from up to this many pairs taken from
    # the documents themselves (document_pairs.py); 0: wait for feedback.
    document_pairs: int = 0
    new_pairs: int = 200  # the scheduler trains once this many new pairs exist…
    every_days: int = 7  # …or when the last training is this old (0: never by age)
    auto_promote: bool = True
    gate_rule: gate.Rule = field(default_factory=gate.Rule)
    guard_set: Path | None = None  # default: the bundled one
    train: TrainParams = field(default_factory=TrainParams)


@dataclass
class LearningContext:
    """What the loop works with for one index (opened by the composition root)."""

    index: str
    client: weaviate.WeaviateClient
    alias: IndexAlias
    registry: Registry
    answer_log: AnswerLog
    ticket_pairs: TicketPairs
    redis: redis.Redis
    write_gate: WriteGate
    # (name, path) → a warmed-up embedder (kept loaded), or one opened afresh from disk;
    # version → the model that produced it.
    load_embedder: Callable[[str, str], SentenceEmbedder]
    open_embedder: Callable[[str, str], SentenceEmbedder]
    embedder_for: Callable[[str], SentenceEmbedder]
    models: ModelStore  # where trained models are published for every host
    model_path: Callable[[EmbedderVersion], str]  # where this host loads a version from
    finetuned_dir: Path  # where fine-tuning writes a model before it is published
    training_sets_dir: Path
    policy: LearningPolicy = field(default_factory=LearningPolicy)
    # version → the not-found threshold it answers with now; None when the setting fixes it
    # (then no threshold is carried over to a candidate).
    min_relevance_of: Callable[[str], float] | None = None

    def serving(self) -> ServingCollection:
        return self.alias.current(fresh=True)

    def close(self) -> None:
        self.answer_log.close()
        self.ticket_pairs.close()


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


@contextmanager
def exclusive(context: LearningContext) -> Iterator[Lease]:
    """Hold the index's training lock, or raise Busy.

    The lock lives LOCK_TTL_S and is renewed while the holder runs, so a killed worker
    frees it within two minutes and a redelivered task can resume.
    """
    lock = context.redis.lock(
        f"knowhere:training:{context.index}",
        timeout=LOCK_TTL_S,
        blocking=False,
        thread_local=False,
    )
    if not lock.acquire():
        raise Busy(f"a training run or switch of '{context.index}' is already in progress")
    try:
        with renewing(lock.reacquire, LOCK_TTL_S / 4, "training-lock") as lease:
            yield lease
    finally:
        release(lock, "training")


def labelled_pairs(context: LearningContext, serving: ServingCollection) -> list[LabelledPair]:
    """Feedback pairs (passage text as the index embeds it now) and resolved-ticket pairs."""
    votes = context.answer_log.pairs()
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
                user=vote.user,
            )
        )
    for ticket in context.ticket_pairs.all():
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


def serving_version(context: LearningContext) -> str:
    return context.serving().embedder.version


def train(
    context: LearningContext, promote: bool | None = None, progress: Progress | None = None
) -> TrainOutcome:
    """One turn of the loop. `promote` None follows the policy's auto-promotion."""
    with exclusive(context) as lease:
        chosen = context.policy.auto_promote if promote is None else promote
        return _train(context, chosen, progress, lease.check)


def _train(
    context: LearningContext,
    promote: bool,
    progress: Progress | None,
    checkpoint: Callable[[], None] = lambda: None,
) -> TrainOutcome:
    """`checkpoint` raises once the training lock is lost: then nothing is published,
    registered or switched (someone else may be training or switching now)."""
    policy = context.policy
    serving = context.serving()
    current = context.registry.get(serving.embedder.version)
    if current is None:
        raise ConfigError(f"serving embedder {serving.embedder.version} is not registered")
    pairs = labelled_pairs(context, serving)
    positives = sum(p.label > 0 for p in pairs)
    if positives < policy.min_pairs and policy.document_pairs:
        pairs += document_pairs(serving.store.scan(), policy.document_pairs)
        positives = sum(p.label > 0 for p in pairs)
    if positives < policy.min_pairs:
        return TrainOutcome(
            "skipped",
            f"{positives} positive pairs; training needs {policy.min_pairs} "
            "(KNOWHERE_TRAIN_MIN_PAIRS; or a cold start: KNOWHERE_TRAIN_DOCUMENT_PAIRS)",
        )
    training = build(pairs, serving.embedder.model, corpus_sample(serving.store))
    training.save(context.training_sets_dir)
    summary = {
        "version": training.version,
        "hash": training.content_hash,
        "feedback_pairs": sum(p.origin == "feedback" for p in pairs),
        "document_pairs": sum(p.origin == "document" for p in pairs),
        **training.stats,
    }
    if not training.train:
        return TrainOutcome("skipped", "no training triplets after cleaning", summary)
    name = f"{Path(current.name).name.split('-ft-')[0]}-ft-{training.version.removeprefix('ts-')}"
    run = finetune(
        context.model_path(current), training.train, context.finetuned_dir / name, policy.train
    )
    # Published before anything else: every host loads it from the store, by its hash.
    checkpoint()
    artifact = context.models.publish(run.output, name)
    shutil.rmtree(run.output, ignore_errors=True)
    candidate = context.load_embedder(name, str(context.models.fetch(artifact)))
    threshold = (
        context.min_relevance_of(serving.embedder.version) if context.min_relevance_of else None
    )
    verdict = judge(policy, training, serving.embedder, candidate, threshold)
    retrieval = {"min_relevance": verdict.min_relevance.candidate} if verdict.min_relevance else {}
    checkpoint()
    entry = context.registry.add(
        EmbedderVersion(
            version=candidate.version,
            name=name,
            path=artifact.url,
            sha256=artifact.sha256,
            status="candidate" if verdict.promote else "rejected",
            parent=current.version,
            training_set=training.version,
            training_hash=training.content_hash,
            metrics={
                "gate": verdict.as_dict(),
                "training": run.as_dict(),
                "set": summary,
                "retrieval": retrieval,
            },
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
        checkpoint()
        outcome.switch = _promote(context, entry.version, progress).as_dict()
        outcome.switch["alpha"] = choose_alpha_on_dev(context, training)
        outcome.status = "promoted"
    return outcome


def judge(
    policy: LearningPolicy,
    training: TrainingSet,
    current: SentenceEmbedder,
    candidate: SentenceEmbedder,
    min_relevance: float | None = None,
) -> gate.Verdict:
    dev = gate.dev_set(training.dev, training.passages)
    guard = gate.guard_set(policy.guard_set)
    return gate.judge(
        gate.rank(current.embed, dev),
        gate.rank(candidate.embed, dev),
        gate.rank(current.embed, guard),
        gate.rank(candidate.embed, guard),
        policy.gate_rule,
        min_relevance,
    )


def choose_alpha_on_dev(context: LearningContext, training: TrainingSet) -> dict[str, object]:
    """After a promotion: the new collection's hybrid weight, swept on the training set's
    dev questions."""
    serving = context.serving()
    queries = {str(i): q.query for i, q in enumerate(training.dev)}
    qrels = {str(i): dict.fromkeys(q.relevant, 1) for i, q in enumerate(training.dev)}
    default = default_alpha(serving.embedder.model_name)
    origin = f"dev questions of {training.version}"
    try:
        choice = choose_store_alpha(
            serving.store,
            serving.embedder,
            queries,
            qrels,
            origin,
            default,
            lambda hit: hit.chunk_id,
        )
    except ValueError as err:
        return {"skipped": str(err)}
    AlphaChoices(context.redis).set(serving.store.name, choice)
    return asdict(choice)


def promote(
    context: LearningContext, version: str, progress: Progress | None = None
) -> SwitchReport:
    """Re-embed the index with a registered version and switch to it (no downtime)."""
    with exclusive(context):
        return _promote(context, version, progress)


def _promote(
    context: LearningContext,
    version: str,
    progress: Progress | None = None,
    kind: str = "promote",
) -> SwitchReport:
    entry = context.registry.get(version)
    if entry is None:
        raise ConfigError(f"no embedder version '{version}' (see `knowhere embedder list`)")
    serving = context.serving()
    before = serving.embedder.version
    target = entry.collection or collection_name(context.index, version)
    _prove_loadable(context, entry)
    embedder = context.embedder_for(version)
    report = switch_index(
        context.client, context.index, target, embedder, context.write_gate, progress
    )
    context.alias.forget()
    if before != version:
        _record(
            context.registry, context.index, kind, before, serving.store.name, entry, target, report
        )
    return report


def _prove_loadable(context: LearningContext, entry: EmbedderVersion) -> None:
    """Before any host is switched to a published version: download it from the store again,
    check its hash, load it from that copy and check it is the same model."""
    if not entry.sha256:
        return  # a base model: every host has its own copy by name
    with tempfile.TemporaryDirectory(prefix="knowhere-proof-") as scratch:
        copy = context.models.fetch(Artifact(entry.path, entry.sha256), into=Path(scratch) / "m")
        loaded = context.open_embedder(entry.name, str(copy)).version
    if loaded != entry.version:
        raise ConfigError(
            f"the model store's {entry.path} loads as {loaded}, not {entry.version}: not promoted"
        )


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


def clean_up(context: LearningContext, grace: timedelta, dry_run: bool = False) -> Cleanup:
    """Remove what the index has not needed for `grace` (see `cleanup`): old collections and
    the archives of retired and rejected models. Holds the training lock, so no switch runs
    meanwhile."""
    with exclusive(context):
        serving = context.serving()
        found = cleanup.plan(
            context.registry,
            context.index,
            serving.store.name,
            serving.embedder.version,
            grace,
        )
        found.dry_run = dry_run
        if dry_run:
            return found
        for collection in found.collections:
            if context.client.collections.exists(collection):
                context.client.collections.delete(collection)
        for version in found.models:
            entry = context.registry.get(version)
            if entry is not None:
                cleanup.remove_model(context.registry, context.models, entry)
        return found


def rollback(context: LearningContext, progress: Progress | None = None) -> SwitchReport:
    """Switch back to the serving version's parent (its collection was kept)."""
    with exclusive(context):
        serving = context.serving()
        current = context.registry.get(serving.embedder.version)
        if current is None or current.parent is None:
            raise ConfigError(
                f"'{context.index}' serves {serving.embedder.version}, which has no "
                "earlier version to roll back to"
            )
        return _promote(context, current.parent, progress, kind="rollback")


def due(
    registry: Registry, answer_log: AnswerLog, policy: LearningPolicy, now: datetime | None = None
) -> tuple[bool, str]:
    """Whether the scheduler should train: enough new pairs, or the last run is old enough."""
    now = now or datetime.now(UTC)
    trained = [v for v in registry.versions() if v.training_set]
    count = len(answer_log.pairs())
    if not trained:
        if count >= policy.min_pairs:
            return True, f"{count} feedback pairs and no training yet"
        if policy.document_pairs:
            return True, f"{count} feedback pairs: a cold start from the documents"
        return False, f"{count} feedback pairs; the first training needs {policy.min_pairs}"
    last = trained[-1]
    seen = int(dict(last.metrics.get("set", {})).get("feedback_pairs", 0))
    new = count - seen
    if new >= policy.new_pairs:
        return True, f"{new} new feedback pairs since {last.training_set}"
    created = last.created_at or now
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = now - created
    if policy.every_days and age >= timedelta(days=policy.every_days) and new > 0:
        return True, f"last training {age.days} days ago, {new} new pairs"
    return False, f"{new} new pairs since {last.training_set}"
