"""The embedder registry: every model version with its metrics, lineage and collection.

A version is what `SentenceEmbedder.version` says (model name + hash of its weights), so a
collection's recorded embedder maps back here to the files that can embed its queries.
Which version serves an index is decided by the Weaviate alias; the registry keeps the
history (candidates, the gate's verdicts, promotions and rollbacks) for `knowhere embedder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from ..infra.database import Base, SqlStore, utc_now

# removed: its archive (and collection) were cleaned up; the entry stays as history.
Status = Literal["base", "candidate", "rejected", "promoted", "retired", "removed"]


class VersionRow(Base):
    __tablename__ = "embedder_versions"

    version: Mapped[str] = mapped_column(String(300), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the archive in the model store
    parent: Mapped[str | None] = mapped_column(String(300))
    training_set: Mapped[str | None] = mapped_column(String(100))
    training_hash: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    collection: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SwitchRow(Base):
    __tablename__ = "index_switches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    index: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # promote, rollback
    from_version: Mapped[str] = mapped_column(String(300))
    to_version: Mapped[str] = mapped_column(String(300))
    from_collection: Mapped[str] = mapped_column(String(300))
    to_collection: Mapped[str] = mapped_column(String(300))
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class EmbedderVersion:
    """One embedding model version and what is known about it."""

    version: str
    name: str
    path: str  # a model store URL (with sha256), or a local path/hub name (base models)
    status: Status
    parent: str | None = None
    training_set: str | None = None
    training_hash: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    collection: str | None = None
    created_at: datetime | None = None
    sha256: str | None = None  # of the model's archive in the model store

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "status": self.status,
            "parent": self.parent,
            "training_set": self.training_set,
            "training_hash": self.training_hash,
            "metrics": self.metrics,
            "collection": self.collection,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class Switch:
    """One alias switch of an index from one collection (and model) to another."""

    index: str
    kind: str
    from_version: str
    to_version: str
    from_collection: str
    to_collection: str
    report: dict[str, Any]
    at: datetime


def _version(row: VersionRow) -> EmbedderVersion:
    return EmbedderVersion(
        version=row.version,
        name=row.name,
        path=row.path,
        status=row.status,  # type: ignore[arg-type]
        parent=row.parent,
        training_set=row.training_set,
        training_hash=row.training_hash,
        metrics=dict(row.metrics or {}),
        collection=row.collection,
        created_at=row.created_at,
        sha256=row.sha256,
    )


class Registry(SqlStore):
    """Embedder versions and index switches in the SQL database."""

    def add(self, entry: EmbedderVersion) -> EmbedderVersion:
        """Insert or replace a version."""
        with self._session() as session:
            row = session.get(VersionRow, entry.version) or VersionRow(version=entry.version)
            row.name, row.path, row.status = entry.name, entry.path, entry.status
            row.parent, row.training_set = entry.parent, entry.training_set
            row.training_hash, row.metrics = entry.training_hash, dict(entry.metrics)
            row.collection, row.sha256 = entry.collection, entry.sha256
            session.add(row)
        found = self.get(entry.version)
        assert found is not None
        return found

    def ensure_base(self, version: str, name: str, path: str) -> EmbedderVersion:
        """Register a model we did not train (the configured one) once."""
        return self.get(version) or self.add(EmbedderVersion(version, name, path, "base"))

    def get(self, version: str) -> EmbedderVersion | None:
        with self._session() as session:
            row = session.get(VersionRow, version)
            return _version(row) if row else None

    def versions(self) -> list[EmbedderVersion]:
        with self._session() as session:
            rows = session.scalars(select(VersionRow).order_by(VersionRow.created_at)).all()
            return [_version(row) for row in rows]

    def update(self, version: str, **changes: Any) -> EmbedderVersion:
        current = self.get(version)
        if current is None:
            raise KeyError(version)
        return self.add(replace(current, **changes))

    def record_switch(self, switch: Switch) -> None:
        with self._session() as session:
            session.add(
                SwitchRow(
                    index=switch.index,
                    kind=switch.kind,
                    from_version=switch.from_version,
                    to_version=switch.to_version,
                    from_collection=switch.from_collection,
                    to_collection=switch.to_collection,
                    report=switch.report,
                    at=switch.at,
                )
            )

    def switches(self, index: str) -> list[Switch]:
        with self._session() as session:
            rows = session.scalars(
                select(SwitchRow).where(SwitchRow.index == index).order_by(SwitchRow.id)
            ).all()
            return [
                Switch(
                    r.index,
                    r.kind,
                    r.from_version,
                    r.to_version,
                    r.from_collection,
                    r.to_collection,
                    dict(r.report or {}),
                    r.at,
                )
                for r in rows
            ]
