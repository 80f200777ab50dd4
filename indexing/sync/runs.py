"""A record of every sync run: when, how it went, counts, and each document that failed.

A run is split into batches; each batch records its own counts once, so a batch delivered
twice (a worker killed before it acknowledged) is not counted twice. The run's totals are the
sums over its batches when it finishes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ..failures import Failure
from ..infra.database import Base, SqlStore, utc_now

COUNTS = ("added", "updated", "unchanged", "deleted", "failed", "embedded")


class CountColumns:
    """The counts a run and each of its batches keep."""

    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    embedded: Mapped[int] = mapped_column(Integer, default=0)


class RunRow(CountColumns, Base):
    __tablename__ = "sync_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    full: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))  # running, finished, failed, abandoned
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    lock_token: Mapped[str] = mapped_column(String(64), default="")


class BatchRow(CountColumns, Base):
    __tablename__ = "sync_batches"

    run_id: Mapped[str] = mapped_column(ForeignKey("sync_runs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class ErrorRow(Base):
    __tablename__ = "sync_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    batch: Mapped[int] = mapped_column(Integer)  # -1: found while planning or finishing
    item: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    embedded: int = 0


@dataclass
class Run:
    id: str
    source: str
    full: bool
    status: str
    started_at: datetime
    finished_at: datetime | None
    batches: int
    counts: Counts
    error: str = ""
    errors: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "source": self.source,
            "kind": "full" if self.full else "incremental",
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "batches": self.batches,
            **{name: getattr(self.counts, name) for name in COUNTS},
            "error": self.error,
            "errors": [f.to_dict() for f in self.errors],
        }


def _error_row(run_id: str, batch: int, failure: Failure) -> ErrorRow:
    return ErrorRow(run_id=run_id, batch=batch, item=failure.item, reason=failure.reason)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive timestamps: they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _run(row: RunRow, errors: list[Failure] | None = None) -> Run:
    return Run(
        row.id,
        row.source,
        row.full,
        row.status,
        _utc(row.started_at) or utc_now(),
        _utc(row.finished_at),
        row.batches,
        Counts(**{name: getattr(row, name) for name in COUNTS}),
        row.error,
        errors or [],
    )


class SyncRuns(SqlStore):
    """Run records in the SQL database (SQLite on one host, PostgreSQL when shared)."""

    def start(self, source: str, full: bool, lock_token: str) -> str:
        """Record a new run; older runs of the source still marked running are abandoned."""
        run_id = str(uuid.uuid4())
        with self._session() as session:
            session.execute(
                update(RunRow)
                .where(RunRow.source == source, RunRow.status == "running")
                .values(status="abandoned", finished_at=utc_now())
            )
            session.add(
                RunRow(id=run_id, source=source, full=full, status="running", lock_token=lock_token)
            )
        return run_id

    def planned(self, run_id: str, batches: int, errors: list[Failure], unchanged: int = 0) -> None:
        """The run's batches (and what planning already knew to be unchanged or broken)."""
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return
            row.batches = batches
            session.merge(BatchRow(run_id=run_id, number=-1, done=True, unchanged=unchanged))
            for number in range(batches):
                session.merge(BatchRow(run_id=run_id, number=number, done=False))
            for failure in errors:
                session.add(_error_row(run_id, -1, failure))

    def lock_token(self, run_id: str) -> str | None:
        with self._session() as session:
            row = session.get(RunRow, run_id)
            return row.lock_token if row is not None and row.status == "running" else None

    def batch_done(self, run_id: str, number: int) -> bool:
        with self._session() as session:
            row = session.get(BatchRow, (run_id, number))
            return bool(row and row.done)

    def record_batch(self, run_id: str, number: int, counts: Counts, errors: list[Failure]) -> bool:
        """Store a batch's outcome once; True when every batch of the run is now done."""
        with self._session() as session:
            row = session.get(BatchRow, (run_id, number), with_for_update=True)
            if row is None or row.done:
                return False
            row.done = True
            for name in COUNTS:
                setattr(row, name, getattr(counts, name))
            session.query(ErrorRow).filter_by(run_id=run_id, batch=number).delete()
            for failure in errors:
                session.add(_error_row(run_id, number, failure))
        return self.pending(run_id) == 0

    def pending(self, run_id: str) -> int:
        with self._session() as session:
            return int(
                session.scalar(
                    select(func.count()).where(BatchRow.run_id == run_id, BatchRow.done.is_(False))
                )
                or 0
            )

    def claim_finish(self, run_id: str) -> bool:
        """True for exactly one caller: the one that gets to finish the run."""
        with self._session() as session:
            result = session.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "running")
                .values(status="finishing")
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish(
        self,
        run_id: str,
        status: str,
        deleted: int = 0,
        error: str = "",
        errors: list[Failure] | None = None,
    ) -> None:
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return
            batches = session.scalars(select(BatchRow).where(BatchRow.run_id == run_id)).all()
            for name in COUNTS:
                setattr(row, name, sum(getattr(b, name) for b in batches))
            row.deleted += deleted
            row.status, row.error, row.finished_at = status, error, utc_now()
            for failure in errors or []:
                session.add(_error_row(run_id, -1, failure))
            session.flush()
            # Every failed document has an error row (planning, batches and pruning alike).
            row.failed = int(
                session.scalar(select(func.count()).where(ErrorRow.run_id == run_id)) or 0
            )

    def get(self, run_id: str) -> Run | None:
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return None
            errors = session.scalars(
                select(ErrorRow).where(ErrorRow.run_id == run_id).order_by(ErrorRow.id)
            ).all()
            return _run(row, [Failure(e.item, e.reason) for e in errors])

    def latest(self, source: str | None = None, limit: int = 20) -> list[Run]:
        with self._session() as session:
            query = select(RunRow).order_by(RunRow.started_at.desc()).limit(limit)
            if source:
                query = query.where(RunRow.source == source)
            return [_run(row) for row in session.scalars(query).all()]
