"""The SQL database: one metadata for every table, and one way to open it (a SQLite file on
one host, PostgreSQL when several hosts share it) with its schema migrated (`schema`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from ..errors import ServiceUnavailable
from . import schema


class Base(DeclarativeBase):
    """Every table of Knowhere (answer log, registry, sync runs, ticket pairs) is declared on
    this one metadata."""


def utc_now() -> datetime:
    """The timestamp default of every table."""
    return datetime.now(UTC)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    return create_engine(url, **options)


def _unreachable(url: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        "Database", safe_url(url), "Check KNOWHERE_DATABASE_URL and that the server is up."
    )


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """An engine on a database whose schema is at this version's revision, and its sessions."""
    engine = _engine(url)
    try:
        schema.upgrade(engine, safe_url(url))
    except OperationalError as err:
        engine.dispose()
        raise _unreachable(url) from err
    return engine, sessionmaker(engine, expire_on_commit=False)


def schema_revision(url: str, upgrade: bool) -> tuple[schema.Revision, schema.Revision]:
    """The database's revision before and after (`upgrade`: brought to this version's)."""
    engine = _engine(url)
    try:
        before = schema.revision(engine, safe_url(url))
        after = schema.upgrade(engine, safe_url(url)) if upgrade else before
    except OperationalError as err:
        raise _unreachable(url) from err
    finally:
        engine.dispose()
    return before, after


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
