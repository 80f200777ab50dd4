"""Clean-up of what an index no longer needs, once a grace period has passed.

Kept, always: the serving collection and model, the previous ones (what served before the last
switch), the serving model's parent and its collection (what a rollback switches back to), and
candidates that passed the gate (an operator may still promote them).
Removed once they have not served for the grace period: the index's other collections (ones
its switch history names, never a collection it does not know), and the published archives of
models that were retired or rejected (from the model store and this host's cache); their
registry entries stay, marked "removed", as history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .model_store import Artifact, ModelStore
from .registry import EmbedderVersion, Registry, Switch


@dataclass
class Cleanup:
    """What a clean-up removed (or, in a dry run, would remove) and what it kept."""

    collections: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # versions whose archives went
    kept: list[str] = field(default_factory=list)  # serving and previous: collections, versions
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def _left_at(switches: list[Switch]) -> dict[str, datetime]:
    """When each collection (and version) last stopped serving."""
    left: dict[str, datetime] = {}
    for switch in switches:
        left[switch.from_collection] = switch.at
        left[switch.from_version] = switch.at
    return left


def plan(
    registry: Registry,
    index: str,
    serving_collection: str,
    serving_version: str,
    grace: timedelta,
    now: datetime | None = None,
) -> Cleanup:
    """What may go now: the decision alone, from the registry's history."""
    now = now or datetime.now(UTC)
    switches = registry.switches(index)
    into_serving = [s for s in switches if s.to_collection == serving_collection]
    previous = into_serving[-1] if into_serving else None
    keep = {serving_collection, serving_version}
    if previous is not None:
        keep |= {previous.from_collection, previous.from_version}
    serving = registry.get(serving_version)
    parent = registry.get(serving.parent) if serving and serving.parent else None
    if parent is not None:  # what `knowhere embedder rollback` switches to
        keep |= {parent.version, *([parent.collection] if parent.collection else [])}
    left = _left_at(switches)
    cleanup = Cleanup(kept=sorted(keep))
    known = {s.from_collection for s in switches} | {s.to_collection for s in switches}
    for collection in sorted(known - keep):
        if collection in left and now - _aware(left[collection]) >= grace:
            cleanup.collections.append(collection)
    for entry in registry.versions():
        if entry.version in keep or not entry.sha256 or entry.status not in ("retired", "rejected"):
            continue
        since = left.get(entry.version) if entry.status == "retired" else entry.created_at
        if since is not None and now - _aware(since) >= grace:
            cleanup.models.append(entry.version)
    return cleanup


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def remove_model(registry: Registry, store: ModelStore, entry: EmbedderVersion) -> None:
    """Delete a version's archive (and this host's copy); its entry stays, marked removed."""
    if entry.sha256:
        store.remove(Artifact(entry.path, entry.sha256))
    registry.update(entry.version, status="removed")
