"""Alembic's script directory for Knowhere's SQL schema: `env.py` and one file per revision in
`versions/`. `indexing.infra.schema` runs them (found by path; the revisions import nothing
of Knowhere); `alembic.ini` at the repository root lets a developer write the next one
(`alembic revision --autogenerate -m "…"`), against `declared_tables()`."""

from __future__ import annotations

from sqlalchemy import MetaData


def declared_tables() -> MetaData:
    """Every table the code declares (Base.metadata once each module declaring one is
    imported): what autogenerate and the schema drift test compare a database against."""
    from indexing.access import directory  # noqa: F401
    from indexing.answers import log, verified  # noqa: F401
    from indexing.infra.database import Base
    from indexing.learning import registry  # noqa: F401
    from indexing.sources.tickets import pairs  # noqa: F401
    from indexing.store import access_lists  # noqa: F401
    from indexing.sync import runs  # noqa: F401

    return Base.metadata
