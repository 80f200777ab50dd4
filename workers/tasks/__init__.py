"""Celery tasks, one module per queue. Each takes plain ids/paths, calls `indexing`'s jobs,
and is safe to run twice."""
