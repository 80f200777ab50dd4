"""A documentation team asks Knowhere what its people could not find: `knowhere gaps`."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import update
from standins.slack_standin import SlackStandIn
from test_cli import knowhere

from indexing import PUBLIC_ONLY, compose, jobs
from indexing.answers.log import AnswerRow
from indexing.infra.database import utc_now

PARKING = [
    "Where can employees park their cars at the office?",
    "Is there a parking garage for staff at headquarters?",
    "How do I get a parking permit for the office car park?",
]
CAFETERIA = [
    "What is on the cafeteria lunch menu this week?",
    "Does the staff canteen serve vegetarian lunches?",
    "When does the office cafeteria open for lunch?",
]
ONE_OFF = "Who won the chess tournament last spring?"
ANSWERED = "How do I connect to the VPN?"


def test_unanswered_questions_are_grouped_into_gaps_with_trend_examples_and_sources(
    settings, settings_env, knowledge_base
):
    jobs.index_folder(settings, knowledge_base)
    answer_log = compose.open_answer_log(settings)
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        ids = {}
        for question in [*PARKING, *CAFETERIA, ONE_OFF, ANSWERED]:
            answer = service.ask(question, PUBLIC_ONLY)
            ids[question] = answer_log.record(answer, "slack", "CGENERAL", "UASKER1")
    assert answer_log.get(ids[ANSWERED]).answer.found
    # Two of the parking questions were asked three weeks ago: that topic is fading.
    with answer_log._session() as session:
        session.execute(
            update(AnswerRow)
            .where(AnswerRow.id.in_([ids[q] for q in PARKING[:2]]))
            .values(created_at=utc_now() - timedelta(days=21))
        )
    answer_log.add_feedback(ids[CAFETERIA[0]], "UVOTER", "reaction", "-1", -1)
    answer_log.close()

    shown = knowhere(settings_env, "gaps", "--since", "30d", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["flagged"] >= 7 and report["unclustered"] >= 1
    gaps = {frozenset(g["examples"]): g for g in report["gaps"]}
    assert set(gaps) == {frozenset(PARKING), frozenset(CAFETERIA)}, report["gaps"]
    parking, cafeteria = gaps[frozenset(PARKING)], gaps[frozenset(CAFETERIA)]
    assert (parking["size"], parking["recent"], parking["earlier"]) == (3, 1, 2)
    assert parking["asked"] == cafeteria["asked"] == 3  # every question on them went badly
    assert parking["trend"] == "falling" and cafeteria["trend"] == "new"
    assert cafeteria["reasons"]["voted_down"] == 1
    assert sum(cafeteria["reasons"].get(r, 0) for r in ("not_found", "low_confidence")) == 3
    for gap in (parking, cafeteria):
        assert gap["sources"] and all(s["owner"] == "source kb" for s in gap["sources"])
        assert all(s["doc_id"].startswith("kb:") for s in gap["sources"])
    assert "UASKER1" not in shown.stdout and "UVOTER" not in shown.stdout

    narrower = knowhere(settings_env, "gaps", "--since", "7d", "--csv")
    assert narrower.returncode == 0, narrower.stderr
    rows = list(csv.DictReader(io.StringIO(narrower.stdout)))
    assert [int(r["size"]) for r in rows] == [3]  # the parking topic is too rare this week
    assert set(rows[0]["examples"].split(" | ")) == set(CAFETERIA)

    text = knowhere(settings_env, "gaps")
    assert (
        text.returncode == 0
        and "2 gaps: 7 of 8 answers" in text.stdout
        and "closest:" in text.stdout
    )

    wrong = knowhere(settings_env, "gaps", "--since", "a fortnight")
    assert wrong.returncode != 0 and "not a duration" in wrong.stderr

    # The weekly digest in the docs team's channel: numbers only, unless the channel may read
    # every question (the questions were asked where that channel may not look).
    with SlackStandIn() as slack:
        digest = settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-test-token"),
                "slack_api_url": slack.api_url,
                "gaps_digest_channel": "CDOCS",
                "admin_url": "https://knowhere.example.com/admin",
            }
        )
        posted = jobs.post_gaps_digest(digest, timedelta(days=30))
        detailed = jobs.post_gaps_digest(
            digest.model_copy(update={"gaps_digest_details": True}), timedelta(days=30)
        )
        messages = [c.args for c in slack.state.calls_to("chat.postMessage")]
    assert posted["gaps"] == detailed["gaps"] == 2 and len(messages) == 2
    plain, full = (json.dumps(m) for m in messages)
    assert all(m["channel"] == "CDOCS" for m in messages)
    assert "2 topics where people did not find an answer" in plain
    assert "knowhere.example.com/admin" in plain
    assert not any(q in plain for q in [*PARKING, *CAFETERIA]) and "kb:" not in plain
    assert all(q in full for q in CAFETERIA) and "source kb" in full
