"""The SQL schema as an operator meets it: hosts starting together on a fresh PostgreSQL
migrate it once; a database from before migrations keeps its rows; a database a newer
Knowhere migrated is refused; `knowhere db status` and `knowhere db upgrade`."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from test_cli import knowhere

from indexing.answers.log import AnswerLog
from indexing.errors import SchemaError
from indexing.infra import schema
from indexing.infra.database import Base
from indexing.infra.local_services import free_port
from indexing.learning.registry import Registry
from indexing.migrations import declared_tables
from indexing.sync.runs import SyncRuns


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'knowhere.db'}"
    return request.getfixturevalue("shared_database")


def _tables_match_the_code(url: str) -> list:
    """What Alembic's autogenerate would still have to do: nothing, when the migrations
    declare every table, column and index the code uses."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), declared_tables())
    finally:
        engine.dispose()


def _stamped(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


STARTER = """
import logging, pathlib, sys, time
from indexing.answers.log import AnswerLog
from indexing.learning.registry import Registry
from indexing.sync.runs import SyncRuns

logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
store = {"answers": AnswerLog, "registry": Registry, "runs": SyncRuns}[sys.argv[1]]
go = pathlib.Path(sys.argv[3])
while not go.exists():  # every starter imported: now all open the database at once
    time.sleep(0.01)
store(sys.argv[2]).close()
"""


def test_hosts_starting_together_on_a_fresh_postgresql_migrate_it_exactly_once(
    shared_database, tmp_path
):
    go = tmp_path / "go"
    starters = [  # a bot, a worker, the CLI … on hosts of their own, each opening its store
        subprocess.Popen(
            [sys.executable, "-c", STARTER, store, shared_database, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for store in ["answers", "registry", "runs"] * 2
    ]
    time.sleep(5)  # imports done
    go.touch()
    outputs = [starter.communicate(timeout=120)[0] for starter in starters]

    assert [starter.returncode for starter in starters] == [0] * len(starters), outputs
    assert _stamped(shared_database) == [schema.head()]
    migrated = [line for out in outputs for line in out.splitlines() if "migrated from" in line]
    assert len(migrated) == 1, outputs  # one starter did the work; the others found it done
    assert _tables_match_the_code(shared_database) == []


def test_a_database_made_before_migrations_is_adopted_and_keeps_its_rows(database_url):
    # What an older Knowhere left: its tables created at start (create_all), a registry
    # from before the model store's sha256 column, and no alembic_version.
    engine = create_engine(database_url)
    Base.metadata.tables["embedder_versions"].create(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE embedder_versions DROP COLUMN sha256"))
        connection.execute(
            text(
                "INSERT INTO embedder_versions (version, name, path, metrics, status, "
                "created_at) VALUES ('base', 'all-MiniLM-L6-v2', '/models/minilm', '{}', "
                "'serving', :at)"
            ),
            {"at": datetime(2026, 11, 1, tzinfo=UTC)},
        )
    engine.dispose()

    registry = Registry(database_url)
    kept = registry.get("base")
    registry.close()

    assert kept is not None and kept.path == "/models/minilm" and kept.sha256 is None
    assert _stamped(database_url) == [schema.head()]
    assert _tables_match_the_code(database_url) == []


def test_a_database_a_newer_knowhere_migrated_is_refused_with_what_to_do(database_url):
    SyncRuns(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042_future'"))
    engine.dispose()

    with pytest.raises(SchemaError) as refused:
        AnswerLog(database_url)
    assert "0042_future" in str(refused.value) and "Upgrade Knowhere" in str(refused.value)
    assert _stamped(database_url) == ["0042_future"]  # untouched


def test_an_operator_checks_and_upgrades_the_schema_from_the_command_line(
    settings_env, shared_database
):
    env = {**settings_env, "KNOWHERE_DATABASE_URL": shared_database}
    behind = knowhere(env, "db", "status")
    assert behind.returncode == 3, behind.stderr
    assert "revision none" in behind.stdout and "knowhere db upgrade" in behind.stdout

    upgraded = knowhere(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"migrated from nothing to {schema.head()}" in upgraded.stdout
    again = knowhere(env, "db", "upgrade")
    assert f"already at revision {schema.head()}" in again.stdout

    current = knowhere(env, "db", "status")
    assert current.returncode == 0 and "up to date" in current.stdout


def test_an_unreachable_database_is_named_without_its_password(settings_env):
    url = f"postgresql+psycopg://knowhere:s3cret-pw@127.0.0.1:{free_port()}/knowhere"
    failed = knowhere({**settings_env, "KNOWHERE_DATABASE_URL": url}, "db", "upgrade")
    assert failed.returncode == 1
    assert "Database is not reachable at postgresql+psycopg://knowhere:***@127.0.0.1" in (
        failed.stderr
    )
    assert "s3cret-pw" not in failed.stdout + failed.stderr
