"""The SQL database: one metadata for every table, and one way to open it (a SQLite file on
one host, PostgreSQL when several hosts share it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from ..errors import ServiceUnavailable


class Base(DeclarativeBase):
    """Every table of Knowhere (answer log, registry, sync runs, ticket pairs) is declared on
    this one metadata."""


def utc_now() -> datetime:
    """The timestamp default of every table."""
    return datetime.now(UTC)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def open_database(
    url: str, metadata: MetaData = Base.metadata
) -> tuple[Engine, sessionmaker[Session]]:
    """An engine with `metadata`'s tables created, and its session factory."""
    parsed = make_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    engine = create_engine(url, **options)
    try:
        metadata.create_all(engine)
        _add_missing_columns(engine, metadata)
    except OperationalError as err:
        raise ServiceUnavailable(
            "Database", safe_url(url), "Check KNOWHERE_DATABASE_URL and that the server is up."
        ) from err
    return engine, sessionmaker(engine, expire_on_commit=False)


def _add_missing_columns(engine: Engine, metadata: MetaData) -> None:
    """Add nullable columns that newer versions declare to tables an older one created."""
    existing = inspect(engine)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as connection:
                connection.execute(
                    text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                )


class SqlStore:
    """Base of the stores kept in the SQL database: their tables, sessions and URL."""

    def __init__(self, url: str) -> None:
        self.url = safe_url(url)
        self.engine, self._sessions = open_database(url)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
