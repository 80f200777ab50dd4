"""Alembic's script directory for Knowhere's SQL schema: `env.py` and one file per revision in
`versions/`. `indexing.infra.schema` runs them (it is found by path, not imported: the
revisions need nothing of Knowhere); `alembic.ini` at the repository root lets a
developer write the next one (`alembic revision --autogenerate -m "…"`)."""
