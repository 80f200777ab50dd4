"""The SQL schema, brought to this version's revision by Alembic migrations.

Every process that opens the database checks its revision (one query) and upgrades it when it
is behind. Starters racing on a fresh deployment are serialised by a lock held for the whole
upgrade — a PostgreSQL advisory lock inside the migration's transaction, a lock file beside a
SQLite file — so exactly one of them migrates and the others find the work done. A database
that a newer Knowhere has migrated is refused, not guessed at. `knowhere db upgrade` runs the
same upgrade for operators who migrate before they roll out."""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from filelock import FileLock
from sqlalchemy import Connection, Engine, text

from ..errors import ConfigError, SchemaError

log = logging.getLogger(__name__)

SCRIPTS = "indexing:migrations"
# pg_advisory_xact_lock's key: any constant only Knowhere's migrations use ("KNOWHERE" in hex).
ADVISORY_LOCK_KEY = 0x4B4E4F5748455245
# Alembic's `context` is one module-level object: two threads of a process never run it at once.
_ONE_THREAD = threading.Lock()


@dataclass(frozen=True)
class Revision:
    """Where a database's schema stands against this version of Knowhere."""

    current: str | None  # None: never migrated (empty, or made before migrations existed)
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this version of Knowhere expects."""
    revision = _scripts().get_current_head()
    assert revision is not None, "indexing/migrations/versions holds no revision"
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:  # Alembic's "Can't locate revision"
        return False


def revision(engine: Engine, url: str) -> Revision:
    """The database's revision; a revision this Knowhere does not know is refused."""
    with engine.connect() as connection:
        current = _current(connection)
    if current is not None and not _known(current):
        raise SchemaError(
            f"The database at {url} is at schema revision {current}, which this version of "
            f"Knowhere does not know (it expects {head()}): a newer Knowhere has migrated it. "
            "Upgrade Knowhere on this host."
        )
    return Revision(current, head())


def _file_lock(engine: Engine) -> AbstractContextManager[object]:
    """SQLite's lock: a file beside the database (PostgreSQL's is taken in the transaction)."""
    backend = engine.dialect.name
    if backend == "postgresql":
        return nullcontext()
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            return nullcontext()  # one process's memory: nobody to race with
        return FileLock(f"{database}.migrate.lock")
    raise ConfigError(
        f"Knowhere's schema migrations run on PostgreSQL or SQLite, not {backend}: "
        "set KNOWHERE_DATABASE_URL to postgresql+psycopg://… (or leave it unset for SQLite)"
    )


def upgrade(engine: Engine, url: str) -> Revision:
    """Bring the database to this version's revision, once, whoever else is starting now."""
    before = revision(engine, url)
    if before.up_to_date:
        return before
    with _ONE_THREAD, _file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends: commit, rollback or a dropped connection.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        start = _current(connection)  # read under the lock: another starter may be done
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = _current(connection)
    if start != after:
        log.info("Database %s migrated from %s to %s", url, start or "nothing", after)
    return Revision(after, head())
