"""Readers for ticket exports: Jira (CSV, REST search JSON), Zendesk (JSON/JSONL), ServiceNow
(CSV/JSON) and generic CSV/JSONL with a column mapping.

Each reader yields `Ticket`s and `Failure`s: a malformed row or record is reported with its
file and line (or record number and id) and the rest of the file still goes through.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ...failures import Failure
from .ticket import Comment, Ticket, iso_date

csv.field_size_limit(50_000_000)


def record_failure(file: str, where: str, reason: str) -> Failure:
    """A record that was skipped: its file and where in it ("line 12", "record 3 (id 4711)")."""
    return Failure(f"{file}, {where}", reason)


Result = Ticket | Failure
Reader = Callable[[Path, Mapping[str, Any]], Iterator[Result]]


def _text(value: Any) -> str:
    """A field as text: display values of ServiceNow references, ADF documents of Jira v3."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        if "display_value" in value:
            return _text(value["display_value"])
        if value.get("type") == "doc" or "content" in value:
            return _adf_text(value)
        for key in ("displayName", "name", "value", "emailAddress"):
            if key in value:
                return _text(value[key])
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value).strip()


def _adf_text(node: Mapping[str, Any]) -> str:
    """Plain text of an Atlassian Document Format node (Jira Cloud REST v3 rich text)."""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    inner = "".join(_adf_text(child) for child in node.get("content", []))
    if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock", "blockquote"):
        return inner + "\n\n"
    return inner


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line number, header, row) for each data row of a CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            if not any(cell.strip() for cell in row):
                continue
            yield line, header, row


def _columns(header: list[str], row: list[str]) -> dict[str, list[str]]:
    """Column name → every non-empty value (Jira repeats Comment, Labels… columns)."""
    values: dict[str, list[str]] = {}
    for name, cell in zip(header, row, strict=False):
        if cell.strip():
            values.setdefault(name.lower(), []).append(cell)
    return values


def _first(values: dict[str, list[str]], *names: str) -> str:
    for name in names:
        found = values.get(name.lower())
        if found:
            return found[0].strip()
    return ""


def _missing(required: Mapping[str, str]) -> str | None:
    absent = [name for name, value in required.items() if not value]
    return f"missing {', '.join(absent)}" if absent else None


def _json_records(path: Path, keys: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """(where, record) for a JSON file holding a list (or {key: [...]}) or a JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {number}", json.loads(line)
                except json.JSONDecodeError as err:
                    yield f"line {number}", err
        return
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(data, Mapping):
        for key in keys:
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    for number, record in enumerate(data, start=1):
        yield f"record {number}", record


def _records(path: Path, keys: tuple[str, ...], parse: Callable[[Any], Ticket]) -> Iterator[Result]:
    try:
        records = list(_json_records(path, keys))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        yield record_failure(path.name, "whole file", f"not valid JSON: {err}")
        return
    for where, record in records:
        if isinstance(record, Exception):
            yield record_failure(path.name, where, f"not valid JSON: {record}")
            continue
        if not isinstance(record, Mapping):
            yield record_failure(
                path.name, where, f"expected an object, got {type(record).__name__}"
            )
            continue
        ident = record.get("key") or record.get("number") or record.get("id")
        label = f"{where} (id {_text(ident)})" if ident else where
        try:
            yield parse(record)
        except (KeyError, TypeError, ValueError) as err:
            yield record_failure(path.name, label, str(err) or type(err).__name__)


def _browse(options: Mapping[str, Any], suffix: str) -> str:
    base = str(options.get("url") or "").rstrip("/")
    return f"{base}{suffix}" if base else ""


# Jira ----------------------------------------------------------------------------------------

JIRA_COMMENT = re.compile(r"^(?P<when>[^;]{6,40});(?P<who>[^;]*);(?P<body>.*)$", re.S)


def _jira_csv_comment(cell: str) -> Comment:
    """`01/Feb/24 9:30 AM;account-id;text` (the navigator's export) or just text."""
    match = JIRA_COMMENT.match(cell)
    if match:
        try:
            return Comment(match["body"], match["who"].strip(), iso_date(match["when"].strip()))
        except ValueError:
            pass
    return Comment(cell)


def read_jira_csv(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    for line, header, row in _csv_rows(path):
        if len(row) != len(header):
            reason = f"has {len(row)} fields, the header has {len(header)}"
            yield record_failure(path.name, f"line {line}", reason)
            continue
        values = _columns(header, row)
        key = _first(values, "Issue key")
        summary = _first(values, "Summary")
        problem = _missing({"Issue key": key, "Summary": summary})
        if problem:
            yield record_failure(path.name, f"line {line}", problem)
            continue
        try:
            yield Ticket(
                id=key,
                summary=summary,
                description=_first(values, "Description"),
                comments=[_jira_csv_comment(c) for c in values.get("comment", [])],
                status=_first(values, "Status"),
                resolution_name=_first(values, "Resolution"),
                labels=[label.strip() for label in values.get("labels", [])],
                created=iso_date(_first(values, "Created")),
                updated=iso_date(_first(values, "Updated")),
                resolved=iso_date(_first(values, "Resolved")),
                url=_browse(options, f"/browse/{key}"),
                reporter=_first(values, "Reporter"),
                assignee=_first(values, "Assignee"),
            )
        except ValueError as err:
            yield record_failure(path.name, f"line {line} ({key})", str(err))


def _jira_issue(record: Mapping[str, Any], options: Mapping[str, Any]) -> Ticket:
    key = str(record["key"])
    fields = record["fields"]
    if not _text(fields.get("summary")):
        raise ValueError("missing fields.summary")
    comments = [
        Comment(
            _text(c.get("body")),
            _text(c.get("author")),
            iso_date(c.get("created")),
            public=c.get("jsdPublic", True) is not False,
        )
        for c in (fields.get("comment") or {}).get("comments", [])
    ]
    return Ticket(
        id=key,
        summary=_text(fields.get("summary")),
        description=_text(fields.get("description")),
        comments=comments,
        status=_text(fields.get("status")),
        resolution_name=_text(fields.get("resolution")),
        labels=[str(label) for label in fields.get("labels") or []],
        created=iso_date(fields.get("created")),
        updated=iso_date(fields.get("updated")),
        resolved=iso_date(fields.get("resolutiondate")),
        url=_browse(options, f"/browse/{key}"),
        reporter=_text(fields.get("reporter")),
        assignee=_text(fields.get("assignee")),
        people=[(fields.get("reporter") or {}).get("emailAddress", "")],
    )


def read_jira_json(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    return _records(path, ("issues",), lambda r: _jira_issue(r, options))


# Zendesk -------------------------------------------------------------------------------------


def _zendesk_ticket(record: Mapping[str, Any], options: Mapping[str, Any]) -> Ticket:
    ident = record.get("id")
    if ident is None:
        raise ValueError("missing id")
    subject = _text(record.get("subject") or record.get("raw_subject"))
    if not subject:
        raise ValueError("missing subject")
    requester = record.get("requester") or {}
    requester_id = str(record.get("requester_id") or requester.get("id") or "")

    def author(comment: Mapping[str, Any]) -> str:
        who = comment.get("author") or {}
        ident = str(comment.get("author_id") or who.get("id") or "")
        return requester_name if ident and ident == requester_id else _text(who) or ident

    requester_name = _text(requester) or requester_id
    comments = [
        Comment(
            _text(c.get("plain_body") or c.get("body")),
            author(c),
            iso_date(c.get("created_at")),
            public=c.get("public", True) is not False,
        )
        for c in record.get("comments") or []
    ]
    description = _text(record.get("description"))
    if comments and description and comments[0].body.strip() == description.strip():
        comments = comments[1:]  # Zendesk's first comment is the description
    status = _text(record.get("status"))
    updated = iso_date(record.get("updated_at"))
    return Ticket(
        id=str(ident),
        summary=subject,
        description=description,
        comments=comments,
        status=status,
        resolution_name=status if status in ("solved", "closed") else "",
        labels=[str(tag) for tag in record.get("tags") or []],
        created=iso_date(record.get("created_at")),
        updated=updated,
        resolved=updated if status in ("solved", "closed") else "",
        url=_browse(options, f"/agent/tickets/{ident}") or _text(record.get("url")),
        reporter=requester_name,
        people=[_text(requester.get("email"))] if isinstance(requester, Mapping) else [],
    )


def read_zendesk(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    return _records(path, ("tickets", "results"), lambda r: _zendesk_ticket(r, options))


# ServiceNow ----------------------------------------------------------------------------------

JOURNAL_HEADER = re.compile(
    r"^(?P<when>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) - (?P<who>.+?) "
    r"\((?P<kind>Additional comments|Comments|Work notes)\)\s*$",
    re.M,
)
SERVICENOW_RESOLVED = {"6", "7", "resolved", "closed"}


def _journal(text: str, public: bool) -> list[Comment]:
    """Entries of a ServiceNow journal field ("2024-03-01 10:15:02 - Jane Doe (Additional
    comments)" then the text), oldest first."""
    headers = list(JOURNAL_HEADER.finditer(text))
    if not headers:
        return [Comment(text.strip(), public=public)] if text.strip() else []
    entries = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end].strip()
        is_public = public and header["kind"] != "Work notes"
        entries.append(Comment(body, header["who"], iso_date(header["when"]), is_public))
    return sorted(entries, key=lambda c: c.created)


def _servicenow_incident(record: Mapping[str, Any], options: Mapping[str, Any]) -> Ticket:
    number = _text(record.get("number"))
    summary = _text(record.get("short_description"))
    problem = _missing({"number": number, "short_description": summary})
    if problem:
        raise ValueError(problem)
    state = _text(record.get("state") or record.get("incident_state"))
    sys_id = _text(record.get("sys_id"))
    link = f"/nav_to.do?uri=incident.do?sys_id={sys_id}" if sys_id else ""
    link = link or f"/incident.do?sysparm_query=number={number}"
    return Ticket(
        id=number,
        summary=summary,
        description=_text(record.get("description")),
        comments=_journal(_text(record.get("comments")), public=True)
        + _journal(_text(record.get("work_notes")), public=False),
        status=state,
        resolution=_text(record.get("close_notes")),
        resolution_name=_text(record.get("close_code")),
        labels=[v for v in (_text(record.get("category")),) if v],
        created=iso_date(_text(record.get("sys_created_on")) or None),
        updated=iso_date(_text(record.get("sys_updated_on")) or None),
        resolved=iso_date(_text(record.get("resolved_at")) or None)
        if state.lower() in SERVICENOW_RESOLVED
        else "",
        url=_browse(options, link),
        reporter=_text(record.get("caller_id")),
        assignee=_text(record.get("assigned_to")),
    )


def read_servicenow_json(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    return _records(path, ("records", "result"), lambda r: _servicenow_incident(r, options))


def read_servicenow_csv(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    for line, header, row in _csv_rows(path):
        record = {name: cell for name, cell in zip(header, row, strict=False)}
        # "Export > CSV" uses column names; display headers ("Number") are accepted too.
        record = {name.lower().replace(" ", "_"): value for name, value in record.items()}
        try:
            yield _servicenow_incident(record, options)
        except ValueError as err:
            ident = record.get("number")
            where = f"line {line}" + (f" ({ident})" if ident else "")
            yield record_failure(path.name, where, str(err))


# Generic -------------------------------------------------------------------------------------

GENERIC_FIELDS = (
    "id",
    "summary",
    "description",
    "comments",
    "status",
    "resolution",
    "resolution_name",
    "labels",
    "created",
    "updated",
    "resolved",
    "url",
    "reporter",
    "assignee",
)


def _generic_ticket(record: Mapping[str, Any], options: Mapping[str, Any]) -> Ticket:
    mapping: Mapping[str, Any] = options.get("mapping") or {}

    def get(name: str) -> Any:
        column = mapping.get(name, name)
        if isinstance(column, list):
            return [record.get(c) for c in column if record.get(c)]
        return record.get(column)

    ident, summary = _text(get("id")), _text(get("summary"))
    problem = _missing({mapping.get("id", "id"): ident, mapping.get("summary", "summary"): summary})
    if problem:
        raise ValueError(problem)
    raw_comments = get("comments") or []
    if isinstance(raw_comments, str):
        raw_comments = [raw_comments]
    comments = [
        Comment(_text(c.get("body")), _text(c.get("author")), iso_date(c.get("created")))
        if isinstance(c, Mapping)
        else Comment(_text(c))
        for c in raw_comments
    ]
    labels = get("labels") or []
    if isinstance(labels, str):
        labels = [part.strip() for part in re.split(r"[,;]", labels) if part.strip()]
    url = _text(get("url"))
    template = options.get("url_template")
    return Ticket(
        id=ident,
        summary=summary,
        description=_text(get("description")),
        comments=comments,
        status=_text(get("status")),
        resolution=_text(get("resolution")),
        resolution_name=_text(get("resolution_name")),
        labels=[str(label) for label in labels],
        created=iso_date(get("created")),
        updated=iso_date(get("updated")),
        resolved=iso_date(get("resolved")),
        url=url or (str(template).format(id=ident) if template else ""),
        reporter=_text(get("reporter")),
        assignee=_text(get("assignee")),
    )


def read_generic(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    if path.suffix.lower() == ".csv":
        return _generic_csv(path, options)
    return _records(path, ("tickets", "records"), lambda r: _generic_ticket(r, options))


def _generic_csv(path: Path, options: Mapping[str, Any]) -> Iterator[Result]:
    for line, header, row in _csv_rows(path):
        record = {name: cell for name, cell in zip(header, row, strict=False) if cell.strip()}
        try:
            yield _generic_ticket(record, options)
        except ValueError as err:
            yield record_failure(path.name, f"line {line}", str(err))


READERS: dict[str, Reader] = {
    "jira-csv": read_jira_csv,
    "jira-json": read_jira_json,
    "zendesk": read_zendesk,
    "servicenow-csv": read_servicenow_csv,
    "servicenow-json": read_servicenow_json,
    "tickets-csv": read_generic,
    "tickets-jsonl": read_generic,
}
