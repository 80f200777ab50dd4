"""How fresh an answer's sources are: "updated 3 days ago by Ada", and which ones are stale.

A source is stale when its document was last updated more than `stale_days` ago (the
setting `KNOWHERE_STALE_DAYS`); a source whose date is unknown is never called stale. An
answer built only from stale sources is stale itself, and says so where it is shown.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import humanize

from .answer import Answer, Citation


def _when(citation: Citation) -> datetime | None:
    """When the citation's source was last updated (a time without a zone is UTC)."""
    try:
        when = datetime.fromisoformat(citation.updated_at) if citation.updated_at else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when and when.tzinfo is None else when


def mark_stale(answer: Answer, stale_days: int, now: datetime) -> Answer:
    """`answer` with each citation older than `stale_days` marked, and the answer marked when
    it was found and every one of its sources is stale."""
    cutoff = now - timedelta(days=stale_days)
    citations = []
    for citation in answer.citations:
        when = _when(citation)
        citations.append(replace(citation, stale=when is not None and when < cutoff))
    stale = answer.found and bool(citations) and all(c.stale for c in citations)
    return replace(answer, citations=citations, stale=stale)


def age(when: datetime, now: datetime) -> str:
    """ "3 days ago", "a month ago", "1 year, 1 month ago" (a date in the future: "just now")."""
    return humanize.naturaltime(max(now - when, timedelta(0)))


def updated_text(citation: Citation, now: datetime) -> str:
    """ "updated 3 days ago by Ada", "updated 3 days ago", "updated by Ada", or "" when the
    source says neither; stale sources end with "· may be out of date"."""
    when = _when(citation)
    parts = ["updated"]
    if when is not None:
        parts.append(age(when, now))
    if citation.updated_by:
        parts.append(f"by {citation.updated_by}")
    if len(parts) == 1:
        return ""
    text = " ".join(parts)
    return f"{text} · may be out of date" if citation.stale else text


def stale_notice(answer: Answer, now: datetime) -> str:
    """What a stale answer says about itself ("" for one that is not stale)."""
    dates = [d for d in (_when(c) for c in answer.citations) if d is not None]
    if not answer.stale or not dates:
        return ""
    return (
        "Every source of this answer is old (the newest was updated "
        f"{age(max(dates), now)}): it may be out of date."
    )
