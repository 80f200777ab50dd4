"""Log output for every Knowhere process: text, or JSON lines (KNOWHERE_LOG_FORMAT=json).

A JSON line carries the ids of what the process is working on (`run`, `batch`, `answer`,
`task`), set with `log_context(...)` where the work starts. Every message is scrubbed before
it is written: e-mail addresses, chat platforms' tokens, bearer credentials and passwords in
URLs never reach a log. A question's text is logged only with KNOWHERE_LOG_QUESTIONS=true
(`question_for_log`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message"]

_NONE: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("knowhere_log_context", default=_NONE)

# What never goes into a log, and what replaces it.
_SECRETS = [
    (re.compile(r"\bxox[abprse]-[A-Za-z0-9-]+"), "xox*-***"),  # Slack bot/user tokens
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-***"),  # Slack app-level tokens
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***"),  # OpenAI-style API keys
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"(?i)\b(api[_-]?key|token|secret|password)=([^\s&]+)"), r"\1=***"),
    (re.compile(r"(://[^/\s:@]*):[^@\s/]+@"), r"\1:***@"),  # passwords in URLs
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<e-mail>"),
]


def scrub(text: str) -> str:
    """`text` with e-mail addresses and credentials replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Add ids (run=…, batch=…, answer=…) to every log record written inside the block."""
    added = {key: str(value) for key, value in ids.items() if value is not None}
    token = _context.set({**_context.get(), **added})
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(**ids: object) -> None:
    """Replace the ids for what follows (a Celery task's start; `clear_log_context` at its end)."""
    _context.set({key: str(value) for key, value in ids.items() if value is not None})


def clear_log_context() -> None:
    _context.set(_NONE)


def question_for_log(question: str, log_questions: bool) -> str:
    return scrub(question) if log_questions else f"<{len(question)} characters>"


class ScrubAndTag(logging.Filter):
    """Scrubs each record's message (and exception text) and adds the current context ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:  # formatted here, scrubbed, and kept only as text
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"})
    return logging.Formatter(TEXT_FORMAT)


def prepare_handler(handler: logging.Handler, log_format: str, keep_format: bool) -> None:
    """Scrub and tag what `handler` writes; JSON lines when asked (else its own format when
    `keep_format`, e.g. Celery's)."""
    for earlier in [f for f in handler.filters if isinstance(f, ScrubAndTag)]:
        handler.removeFilter(earlier)
    handler.addFilter(ScrubAndTag())  # last: after any filter that hides a record's parts
    if log_format == "json" or not keep_format:
        handler.setFormatter(formatter(log_format))


def configure_logging(log_format: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """The root logger writes to `stream` (stderr) in `log_format`, scrubbed and tagged."""
    handler = logging.StreamHandler(stream or sys.stderr)
    prepare_handler(handler, log_format, keep_format=False)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
