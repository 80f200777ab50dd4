"""The workers' logs: Celery's handlers scrubbed and tagged with the task (and, inside a
sync, its run and batch), as JSON lines with KNOWHERE_LOG_FORMAT=json."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from indexing import Settings, queues
from indexing.observability.logs import clear_log_context, prepare_handler, set_log_context

HIDDEN = "<hidden: an answer holds a question and passages>"


class HideAnswers(logging.Filter):
    """Celery logs each task's arguments and return value. An answer task's are a question
    and the passages it was answered from: they stay out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if isinstance(data, dict) and data.get("name") == queues.ANSWER:
            hidden = {**data, **{key: HIDDEN for key in ("args", "kwargs", "return_value")}}
            record.data = hidden
            if isinstance(record.args, dict):
                record.args = hidden
        return True


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def knowhere_format(logger: logging.Logger | None = None, **_: Any) -> None:
    if logger is None:
        return
    settings = Settings()
    for handler in logger.handlers:
        if not settings.log_questions and not any(
            isinstance(f, HideAnswers) for f in handler.filters
        ):
            handler.addFilter(HideAnswers())  # before the scrubbing filter formats the message
        prepare_handler(handler, settings.log_format, keep_format=True)


@signals.task_prerun.connect
def tag_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    set_log_context(task=getattr(task, "name", None), task_id=task_id)


@signals.task_postrun.connect
def untag_task(**_: Any) -> None:
    clear_log_context()
