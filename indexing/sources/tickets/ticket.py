"""A support ticket as read from an export, before cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dateutil import parser as dateparser

RESOLVED_STATUSES = {"resolved", "closed", "done", "solved", "fixed", "6", "7"}


@dataclass(frozen=True)
class Comment:
    body: str
    author: str = ""
    created: str = ""
    public: bool = True


@dataclass
class Ticket:
    """One ticket as read from an export, before cleaning."""

    id: str
    summary: str
    description: str = ""
    comments: list[Comment] = field(default_factory=list)
    status: str = ""
    resolution: str = ""  # a resolution text (close notes); else the last public answer counts
    resolution_name: str = ""  # a resolution code or name ("Fixed", "Solved (Permanently)")
    labels: list[str] = field(default_factory=list)
    created: str = ""
    updated: str = ""
    resolved: str = ""
    url: str = ""
    reporter: str = ""
    assignee: str = ""
    people: list[str] = field(default_factory=list)  # other names/e-mails seen in the record

    @property
    def is_resolved(self) -> bool:
        return bool(self.resolved) or self.status.strip().lower() in RESOLVED_STATUSES


def iso_date(value: object) -> str:
    """An export's date (ISO, "12/Mar/24 10:15 AM", epoch seconds…) as ISO 8601; "" if none.

    Raises ValueError for a value that is not a date.
    """
    if value in (None, ""):
        return ""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    try:
        parsed = dateparser.parse(str(value))
    except (OverflowError, dateparser.ParserError) as err:
        raise ValueError(f"not a date: {str(value)[:40]!r}") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()
