"""Celery tasks. Each takes plain ids/paths, calls `indexing`, and is safe to run twice."""

from __future__ import annotations

from pathlib import Path

from indexing import wiring
from indexing.errors import ServiceUnavailable
from indexing.settings import Settings

from .celery_app import app


@app.task(
    name="knowhere.index_folder",
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def index_folder(path: str, source: str | None = None) -> dict[str, object]:
    """Index a folder (idempotent: deterministic chunk ids, unchanged files skipped)."""
    report = wiring.index_folder(Settings(), Path(path), source)
    return report.as_dict()
