"""The answer service and the answer log: permissions, follow-ups, not-found, feedback pairs."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexing import (
    PUBLIC_ONLY,
    AnswerLog,
    Audience,
    GroupDirectory,
    VerificationRefused,
    compose,
    jobs,
    stale_notice,
    updated_text,
    verify_answer,
)
from indexing.answers.service import NOT_FOUND, Turn, strip_mentions

FIXTURES = Path(__file__).parents[1] / "fixtures"
GROUPS = GroupDirectory.load(FIXTURES / "groups.yml")
ALICE = GROUPS.principal("Alice@Northwind.example")  # in hr
BOB = GROUPS.principal("bob@northwind.example")  # not in hr


@pytest.fixture
def company_kb(knowledge_base: Path) -> Path:
    """The sample knowledge base plus a restricted HR page and a page with an injection."""
    shutil.copytree(FIXTURES / "kb-extra", knowledge_base, dirs_exist_ok=True)
    return knowledge_base


@pytest.fixture
def service(settings, company_kb):
    jobs.index_folder(settings, company_kb)
    with compose.connect_weaviate(settings) as client:
        yield compose.build_answer_service(client, settings)


def cited_docs(answer) -> set[str]:
    return {c.doc_id for c in answer.citations}


def test_a_restricted_page_reaches_only_people_allowed_to_read_it(service):
    question = "What is the salary band for software engineers?"
    alice_alone = service.ask(question, Audience.of([ALICE]))
    assert "kb:hr/salaries.md" in cited_docs(alice_alone)
    assert "85,000" in alice_alone.text

    for audience in (Audience.of([BOB]), Audience.of([ALICE, BOB]), PUBLIC_ONLY):
        answer = service.ask(question, audience)
        assert "kb:hr/salaries.md" not in cited_docs(answer)
        assert "85,000" not in answer.text
        assert not any("85,000" in c.text for c in answer.citations)


def test_instructions_and_mentions_inside_documents_do_not_reach_the_answer(service):
    answer = service.ask("What is the office printer called?", PUBLIC_ONLY)
    assert "kb:it/printers.md" in cited_docs(answer)
    rendered = answer.text + " ".join(c.snippet + c.text for c in answer.citations)
    for mention in ("@channel", "<!channel>", "<!here>", "<!everyone>", "@here", "<@U0ADMIN>"):
        assert mention not in answer.text
        assert mention not in " ".join(c.snippet for c in answer.citations)
    assert "Orion" in rendered


def test_each_source_says_when_it_changed_and_an_answer_from_old_pages_says_so(
    settings, company_kb
):
    three_years_ago = time.time() - 3 * 365 * 86400
    os.utime(company_kb / "hr" / "vacation.md", (three_years_ago, three_years_ago))
    jobs.index_folder(settings, company_kb)
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        old = service.ask("How many days of paid vacation do employees get?", PUBLIC_ONLY)
        fresh = service.ask("What is the office printer called?", PUBLIC_ONLY)
    now = datetime.now(UTC)

    vacation = [c for c in old.citations if c.doc_id == "kb:hr/vacation.md"]
    assert vacation and all(c.stale for c in vacation)
    assert updated_text(vacation[0], now) == "updated 3 years ago · may be out of date"
    assert old.stale == all(c.stale for c in old.citations)
    if old.stale:
        assert "Every source of this answer is old" in stale_notice(old, now)

    printers = next(c for c in fresh.citations if c.doc_id == "kb:it/printers.md")
    assert not printers.stale and not fresh.stale and stale_notice(fresh, now) == ""
    assert updated_text(printers, now).endswith("ago")  # the file's time: minutes ago


def test_a_verified_answer_is_served_until_it_expires_or_its_source_changes(settings, company_kb):
    settings = settings.model_copy(update={"experts_group": "experts"})
    jobs.index_folder(settings, company_kb)
    answer_log = AnswerLog(settings.answer_log_url())
    verified = compose.open_verified_answers(settings)
    paraphrase = "how can I connect to the VPN?"
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        assert service.verified is not None
        first = service.ask("How do I connect to the VPN?", PUBLIC_ONLY)
        assert "kb:it/vpn.md" in cited_docs(first)
        stored = answer_log.get(answer_log.record(first, "cli", "test", "carol"))
        store = service.retriever.current()[0]
        verify_answer(verified, store, stored, "Use WireGuard.", "carol", "Carol", 180)

        served = service.ask(paraphrase, PUBLIC_ONLY)
        assert served.verified is not None and served.verified.text == "Use WireGuard."
        assert served.verified.similarity >= service.verified.threshold
        assert served.text  # the usual answer follows
        assert answer_log.get(answer_log.record(served, "cli", "test", "bob")) is not None

        later = service.verified.clock
        service.verified.clock = lambda: datetime.now(UTC) + timedelta(days=181)
        assert service.ask(paraphrase, PUBLIC_ONLY).verified is None  # expired
        service.verified.clock = later

        vpn = company_kb / "it" / "vpn.md"
        vpn.write_text(vpn.read_text() + "\nThe VPN now asks for a second factor.\n")
        jobs.index_folder(settings, company_kb)
        assert service.ask(paraphrase, PUBLIC_ONLY).verified is None  # its page changed
        assert verified.active() == []

        lasagna = service.ask("What is the best recipe for lasagna?", PUBLIC_ONLY)
        nothing = answer_log.get(answer_log.record(lasagna, "cli", "test", "carol"))
        with pytest.raises(VerificationRefused, match="with sources"):
            verify_answer(verified, store, nothing, "Boil pasta.", "carol", "Carol", 180)
    answer_log.close()
    verified.close()


def test_nothing_relevant_says_so_and_lists_the_closest_sources(service):
    answer = service.ask("What is the best recipe for lasagna?", PUBLIC_ONLY)
    assert not answer.found
    assert answer.text == NOT_FOUND
    assert 1 <= len(answer.citations) <= 3
    assert answer.confidence is not None and answer.confidence < service.min_relevance


def test_a_follow_up_is_answered_in_the_context_of_its_thread(service):
    history = [
        Turn("user", "How many days of paid vacation do employees get?"),
        Turn("assistant", "Full-time employees have 28 days of paid vacation per year. [1]"),
    ]
    answer = service.ask("and how do I request them?", PUBLIC_ONLY, history)
    assert answer.standalone_query.startswith("How many days of paid vacation")
    assert cited_docs(answer) == {"kb:hr/vacation.md"}
    assert "HR system" in answer.text


def test_passages_are_kept_within_the_token_budget(service):
    service.context_tokens = 10  # less than any passage: only the best one is used
    answer = service.ask("How many vacation days do I get?", PUBLIC_ONLY)
    assert len(answer.citations) == 1


def test_mentions_are_removed_but_the_words_stay():
    text = "Hi @channel and @here, <!everyone> <@U123ABC> <!subteam^S1|@ops> see [1]."
    assert strip_mentions(text) == "Hi channel and here,    see [1]."
    assert strip_mentions("mail alice@example.com") == "mail alice@example.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def answer_log(request, tmp_path) -> AnswerLog:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'answers.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    log = AnswerLog(url)
    yield log
    log.close()


def test_reactions_on_an_answer_become_training_pairs_and_removal_withdraws_them(
    answer_log, service
):
    answer = service.ask("How many vacation days do I get?", PUBLIC_ONLY)
    answer_id = answer_log.record(answer, "slack", "C1", "U1", thread="1.0", message="2.0")
    assert answer_log.answer_for_message("slack", "C1", "2.0") == answer_id
    assert answer_log.answered_thread("slack", "C1", "1.0")

    answer_log.add_feedback(answer_id, "U2", "reaction", "+1", 1)
    answer_log.add_feedback(answer_id, "U3", "reaction", "-1", -1)
    pairs = answer_log.pairs()
    assert {(p.user, p.label) for p in pairs} == {("U2", 1), ("U3", -1)}
    assert all(p.query == answer.standalone_query for p in pairs)
    assert {p.chunk_id for p in pairs} == {c.chunk_id for c in answer.citations}
    assert any("28 days" in p.passage for p in pairs)

    assert answer_log.withdraw(answer_id, "U3", "reaction", "-1") == 1
    assert {(p.user, p.label) for p in answer_log.pairs()} == {("U2", 1)}

    stored = answer_log.get(answer_id)
    assert stored is not None and stored.answer.text == answer.text
    assert stored.answer.citations[0].url == answer.citations[0].url


def test_a_thread_s_turns_are_the_answers_posted_in_it_never_a_private_one(answer_log, service):
    public = service.ask("How many vacation days do I get?", PUBLIC_ONLY)
    answer_log.record(public, "slack", "CTURNS", "U1", thread="1.0", message="2.0")
    private = replace(public, text="Only for U1: the HR salary bands [1].")
    answer_log.record(private, "slack", "CTURNS", "U1", thread="1.0")  # *More*: ephemeral

    turns = answer_log.thread_turns("slack", "CTURNS", "1.0")

    assert [(t.role, t.text) for t in turns] == [
        ("user", public.question),
        ("assistant", public.text),
    ]
