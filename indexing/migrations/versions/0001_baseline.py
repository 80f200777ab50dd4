"""Baseline: every table as it stood when migrations began (2026-12).

Revision ID: 0001
Revises:
Created: 2026-12-02

A database made before migrations existed already holds some of these tables, perhaps from an
older version: it is adopted — missing tables, nullable columns and indexes are added, rows are
kept — and stamped like a fresh one."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = sa.MetaData()


def _table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, TABLES, *columns)


def _required(name: str, kind: sa.types.TypeEngine, *args: Any, **keys: Any) -> sa.Column:
    return sa.Column(name, kind, *args, nullable=False, **keys)


def _optional(name: str, kind: sa.types.TypeEngine, **keys: Any) -> sa.Column:
    return sa.Column(name, kind, nullable=True, **keys)


def _counts() -> list[sa.Column]:
    return [
        _required(n, sa.Integer())
        for n in ("added", "updated", "unchanged", "deleted", "failed", "embedded")
    ]


def _pk(name: str, kind: sa.types.TypeEngine) -> sa.Column:
    return sa.Column(name, kind, primary_key=True, nullable=False)


def _serial() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False)


def _answer_id() -> sa.Column:
    return _required("answer_id", sa.String(32), sa.ForeignKey("answers.id"), index=True)


_table("access_lists", _pk("id", sa.String(32)), _required("access", sa.JSON()))
_table(
    "answers",
    _pk("id", sa.String(32)),
    _required("created_at", sa.DateTime(timezone=True)),
    _required("platform", sa.String(16)),
    _required("conversation", sa.String(128), index=True),
    _optional("thread", sa.String(128), index=True),
    _required("asker", sa.String(128)),
    _required("question", sa.Text()),
    _required("standalone_query", sa.Text()),
    _required("text", sa.Text()),
    _required("found", sa.Boolean()),
    _optional("confidence", sa.Float()),
    _required("embedder", sa.String(300)),
    _required("generator", sa.String(300)),
    _required("retrieved", sa.JSON()),
)
_table(
    "answer_passages",
    _serial(),
    _answer_id(),
    _required("number", sa.Integer()),
    _required("chunk_id", sa.String(64)),
    *[_required(n, sa.Text()) for n in ("doc_id", "title", "label", "url", "text")],
    _required("cited", sa.Boolean()),
)
_table(
    "answer_messages",
    _pk("platform", sa.String(16)),
    _pk("conversation", sa.String(128)),
    _pk("message", sa.String(256)),
    _answer_id(),
)
_table(
    "feedback",
    _serial(),
    _answer_id(),
    _required("user", sa.String(128)),
    _required("via", sa.String(32)),
    _required("signal", sa.String(64)),
    _required("label", sa.Integer()),
    _optional("comment", sa.Text()),
    _required("created_at", sa.DateTime(timezone=True)),
    _optional("withdrawn_at", sa.DateTime(timezone=True)),
    _optional("passage", sa.Integer()),
)
_table(
    "directory_people",
    _pk("source", sa.String(200)),
    _pk("user_id", sa.String(300)),
    _required("email", sa.String(320), index=True),
)
_table(
    "directory_memberships",
    _pk("source", sa.String(200)),
    _pk("group", sa.String(300)),
    _pk("user_id", sa.String(300)),
)
_table(
    "directory_snapshots",
    _pk("source", sa.String(200)),
    _required("taken_at", sa.DateTime(timezone=True)),
)
_table(
    "embedder_versions",
    _pk("version", sa.String(300)),
    _required("name", sa.String(300)),
    _required("path", sa.Text()),
    _optional("sha256", sa.String(64)),
    _optional("parent", sa.String(300)),
    _optional("training_set", sa.String(100)),
    _optional("training_hash", sa.String(64)),
    _required("metrics", sa.JSON()),
    _required("status", sa.String(16)),
    _optional("collection", sa.String(300)),
    _required("created_at", sa.DateTime(timezone=True)),
)
_table(
    "index_switches",
    _serial(),
    _required("index", sa.String(200), index=True),
    _required("kind", sa.String(16)),
    *[
        _required(n, sa.String(300))
        for n in ("from_version", "to_version", "from_collection", "to_collection")
    ],
    _required("report", sa.JSON()),
    _required("at", sa.DateTime(timezone=True)),
)
_table(
    "sync_runs",
    _pk("id", sa.String(36)),
    _required("source", sa.String(200), index=True),
    _required("full", sa.Boolean()),
    _required("status", sa.String(20)),
    _required("started_at", sa.DateTime(timezone=True)),
    _optional("finished_at", sa.DateTime(timezone=True)),
    _required("batches", sa.Integer()),
    _required("error", sa.Text()),
    _required("lock_token", sa.String(64)),
    *_counts(),
)
_table(
    "sync_batches",
    sa.Column(
        "run_id", sa.String(36), sa.ForeignKey("sync_runs.id"), primary_key=True, nullable=False
    ),
    _pk("number", sa.Integer()),
    _required("done", sa.Boolean()),
    *_counts(),
)
_table(
    "sync_errors",
    _serial(),
    _required("run_id", sa.String(36), sa.ForeignKey("sync_runs.id"), index=True),
    _required("batch", sa.Integer()),
    _required("item", sa.Text()),
    _required("reason", sa.Text()),
)
_table(
    "ticket_pairs",
    _pk("source", sa.String(200)),
    _pk("ticket_id", sa.String(200)),
    _required("question", sa.Text()),
    _required("resolution", sa.Text()),
    _required("url", sa.Text()),
    _required("added_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    present = sa.inspect(bind)
    for table in TABLES.sorted_tables:
        if not present.has_table(table.name):
            table.create(bind)
            continue
        # Made before migrations: bring it level with the baseline, keeping its rows.
        columns = {c["name"] for c in present.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns:
                op.add_column(table.name, column._copy())
        indexes = {i["name"] for i in present.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    for table in reversed(TABLES.sorted_tables):
        op.drop_table(table.name)
