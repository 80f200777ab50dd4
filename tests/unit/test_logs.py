"""Logs an operator can ship anywhere: JSON lines with ids, never a secret or an address."""

from __future__ import annotations

import io
import json
import logging

from indexing.observability.logs import configure_logging, log_context, question_for_log, scrub


def test_tokens_keys_passwords_and_addresses_are_scrubbed():
    line = (
        "posting with xoxb-1234-5678-abcdef for alice@northwind.example to "
        "postgresql://knowhere:s3cret@db:5432/k, Authorization: Bearer eyJhbGciOi.x.y, "
        "app token xapp-1-A0-123, key sk-proj-abcdefghij, url ?api_key=zzz&x=1"
    )
    scrubbed = scrub(line)
    for secret in ("xoxb-1234", "alice@", "s3cret", "eyJhbGciOi", "xapp-1-A0", "sk-proj", "zzz"):
        assert secret not in scrubbed
    assert "postgresql://knowhere:***@db:5432/k" in scrubbed and "<e-mail>" in scrubbed


def test_json_lines_carry_the_ids_of_the_work_and_scrub_messages_and_tracebacks():
    stream = io.StringIO()
    configure_logging("json", "INFO", stream)
    log = logging.getLogger("knowhere.test")
    try:
        with log_context(run="r-1", batch=3):
            log.info("batch for %s done", "carol@example.com")
            try:
                raise RuntimeError("token=hunter2 refused")
            except RuntimeError:
                log.exception("failed")
        log.info("outside")
    finally:
        configure_logging("text", "WARNING")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["run"] == "r-1" and first["batch"] == "3" and first["level"] == "INFO"
    assert first["message"] == "batch for <e-mail> done"
    assert "hunter2" not in json.dumps(second) and "RuntimeError" in second["exc_info"]
    assert "run" not in third


def test_questions_are_logged_only_when_asked_for():
    assert question_for_log("Where is bob@x.example's salary?", False) == "<32 characters>"
    assert (
        question_for_log("Where is bob@x.example's salary?", True) == "Where is <e-mail>'s salary?"
    )
