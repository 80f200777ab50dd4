"""Reports for the documentation team: the weekly knowledge-gap digest (beat, when
KNOWHERE_GAPS_DIGEST_CHANNEL is set)."""

from __future__ import annotations

from indexing import ServiceUnavailable, Settings, jobs, queues

from ..celery_app import app


@app.task(
    name=queues.POST_GAPS_DIGEST,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=60,
    max_retries=3,
)
def post_gaps_digest() -> dict[str, object]:
    """Post the last week's knowledge gaps to the configured Slack channel."""
    return jobs.post_gaps_digest(Settings())
