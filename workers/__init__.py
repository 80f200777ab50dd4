"""Celery workers: thin tasks that call the `indexing` library."""
