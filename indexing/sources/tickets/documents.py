"""Support tickets as documents: cleaned comments, personal data handling, resolution pairs.

A ticket becomes one Markdown document (summary, status line, description, public comments in
order, resolution). Quoted replies and signatures are cut by email-reply-parser; people are
dropped or replaced by a stable pseudonym (`personal_data`), both in the author fields and
wherever their name or an e-mail address appears in the text.
"""

from __future__ import annotations

import re

from email_reply_parser import EmailReplyParser
from llama_index.core import Document

from ...ingest.documents import document_id
from .pairs import TicketPair
from .people import People
from .ticket import Comment, Ticket

GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening))\b[^\n]{0,60}$", re.I
)
QUESTION_CHARS = 2000
# A sign-off line followed only by a few short lines (name, title, company) ends the text.
SIGN_OFF = re.compile(
    r"^\s*(thanks|thank you|many thanks|cheers|regards|best|best regards|kind regards|"
    r"warm regards|sincerely|br|brgds|mfg|viele grüße)[,.!]?\s*$",
    re.I,
)
SIGNATURE_LINES = 4


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
