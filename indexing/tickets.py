"""Support tickets as documents: cleaned comments, personal data handling, resolution pairs.

A ticket becomes one Markdown document (summary, status line, description, public comments in
order, resolution). Quoted replies and signatures are cut by email-reply-parser; people are
dropped or replaced by a stable pseudonym (`personal_data`), both in the author fields and
wherever their name or an e-mail address appears in the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from dateutil import parser as dateparser
from email_reply_parser import EmailReplyParser
from llama_index.core import Document

from .reading import document_id
from .ticketpairs import TicketPair

PersonalData = Literal["drop", "hash", "keep"]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening))\b[^\n]{0,60}$", re.I
)
RESOLVED_STATUSES = {"resolved", "closed", "done", "solved", "fixed", "6", "7"}
QUESTION_CHARS = 2000
# A sign-off line followed only by a few short lines (name, title, company) ends the text.
SIGN_OFF = re.compile(
    r"^\s*(thanks|thank you|many thanks|cheers|regards|best|best regards|kind regards|"
    r"warm regards|sincerely|br|brgds|mfg|viele grüße)[,.!]?\s*$",
    re.I,
)
SIGNATURE_LINES = 4


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


@dataclass(frozen=True)
class People:
    """Replaces people's names and e-mail addresses according to the setting."""

    mode: PersonalData
    key: bytes = b""

    def alias(self, person: str) -> str:
        if not person or self.mode == "keep":
            return person
        if self.mode == "drop":
            return ""
        digest = hmac.new(self.key, person.strip().lower().encode(), hashlib.sha256).hexdigest()
        return f"person-{digest[:8]}"

    def scrub(self, text: str, names: list[str]) -> str:
        if self.mode == "keep":
            return text
        placeholder = "[e-mail]" if self.mode == "drop" else None
        text = EMAIL.sub(lambda m: placeholder or self.alias(m.group(0)), text)
        for name in sorted({n for n in names if n and "@" not in n}, key=len, reverse=True):
            replacement = self.alias(name) or "[name]"
            text = re.sub(rf"\b{re.escape(name)}\b", replacement, text)
            first = name.split()[0]
            if len(first) >= 3 and first != name:
                text = re.sub(rf"\b{re.escape(first)}\b", replacement, text)
        return text


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


def clean_body(body: str) -> str:
    """A comment without quoted replies, signatures and a leading greeting line."""
    text = body.replace("\r\n", "\n").strip()
    if not text:
        return ""
    reply = EmailReplyParser.parse_reply(text)
    lines = [line for line in reply.splitlines() if not line.lstrip().startswith(">")]
    while lines and (not lines[0].strip() or GREETING.match(lines[0])):
        lines.pop(0)
    for index, line in enumerate(lines):
        rest = [r for r in lines[index + 1 :] if r.strip()]
        if SIGN_OFF.match(line) and len(rest) <= SIGNATURE_LINES:
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def _names(ticket: Ticket) -> list[str]:
    return [ticket.reporter, ticket.assignee, *ticket.people, *(c.author for c in ticket.comments)]


def public_comments(ticket: Ticket) -> list[Comment]:
    return [c for c in ticket.comments if c.public and clean_body(c.body)]


def resolution_text(ticket: Ticket) -> str:
    """The written resolution, else the last public comment not written by the reporter."""
    if ticket.resolution.strip():
        return clean_body(ticket.resolution)
    for comment in reversed(public_comments(ticket)):
        if not ticket.reporter or comment.author != ticket.reporter:
            return clean_body(comment.body)
    return ""


def ticket_document(ticket: Ticket, source: str, people: People) -> Document:
    """One ticket as a Markdown Document with its metadata."""
    names = _names(ticket)
    scrub = lambda text: people.scrub(text, names)  # noqa: E731 - one-line helper
    status = " · ".join(
        f"{label}: {value}"
        for label, value in (
            ("Status", ticket.status),
            ("Resolution", ticket.resolution_name),
            ("Labels", ", ".join(ticket.labels)),
            ("Created", ticket.created),
            ("Resolved", ticket.resolved),
        )
        if value
    )
    parts = [f"# {scrub(ticket.summary)}"]
    if status:
        parts.append(status)
    description = clean_body(ticket.description)
    if description:
        parts.append(f"## Description\n\n{scrub(description)}")
    comments = public_comments(ticket)
    if comments:
        lines = ["## Comments"]
        for number, comment in enumerate(comments, start=1):
            who = people.alias(comment.author)
            header = ", ".join(v for v in (who, comment.created) if v)
            lines.append(f"Comment {number}" + (f" ({header})" if header else "") + ":")
            lines.append(scrub(clean_body(comment.body)))
        parts.append("\n\n".join(lines))
    resolution = resolution_text(ticket) if ticket.is_resolved else ""
    if resolution:
        parts.append(f"## Resolution\n\n{scrub(resolution)}")
    metadata = {
        "title": f"{ticket.id}: {scrub(ticket.summary)}",
        "url": ticket.url,
        "source": source,
        "path": f"ticket/{ticket.id}",
        "format": "ticket",
        "ticket_id": ticket.id,
        "status": ticket.status,
        "resolution": ticket.resolution_name,
        "labels": list(ticket.labels),
        "created_at": ticket.created,
        "updated_at": ticket.updated or ticket.resolved or ticket.created,
        "resolved_at": ticket.resolved,
        "reporter": people.alias(ticket.reporter),
        "assignee": people.alias(ticket.assignee),
    }
    return Document(
        id_=document_id(source, f"ticket/{ticket.id}"),
        text="\n\n".join(parts),
        metadata={k: v for k, v in metadata.items() if v not in ("", [], None)},
    )


def ticket_pair(ticket: Ticket, source: str, people: People) -> TicketPair | None:
    """(question, resolution) of a resolved ticket, for embedder training; None otherwise."""
    if not ticket.is_resolved:
        return None
    resolution = resolution_text(ticket)
    if not resolution:
        return None
    names = _names(ticket)
    question = ticket.summary.strip()
    description = clean_body(ticket.description)
    if description:
        question = f"{question}\n{description}"[:QUESTION_CHARS]
    return TicketPair(
        source=source,
        ticket_id=ticket.id,
        question=people.scrub(question, names),
        resolution=people.scrub(resolution, names),
        url=ticket.url,
    )
