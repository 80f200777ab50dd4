"""How Alembic reaches the database.

`indexing.infra.schema` hands over a connection already inside a transaction that holds the
migration lock, so every revision and the version stamp commit together or not at all.
From the `alembic` command line (a developer writing the next revision) the URL comes from
`-x url=…` or KNOWHERE_DATABASE_URL, and autogenerate compares against every table Knowhere
declares."""

from __future__ import annotations

import os
from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine

from indexing.migrations import declared_tables

config = context.config


def _run(connection: Any, metadata: MetaData | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters a table by copying it
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


handed_over = config.attributes.get("connection")
if handed_over is not None:
    _run(handed_over, None)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "KNOWHERE_DATABASE_URL", ""
    )
    if not url:
        raise SystemExit(
            "Name the database: alembic -x url=postgresql+psycopg://… (or KNOWHERE_DATABASE_URL)"
        )
    with create_engine(url).begin() as connection:
        _run(connection, declared_tables())
