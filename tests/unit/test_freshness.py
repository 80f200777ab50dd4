"""Every cited source says when (and by whom) it was last updated; old ones are marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.slack.render import answer_blocks
from bot.teams.render import answer_activity
from indexing import Answer, Citation, stale_notice, updated_text
from indexing.answers.freshness import mark_stale

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def source(number: int, days_old: float | None, by: str = "", naive: bool = False) -> Citation:
    when = "" if days_old is None else (NOW - timedelta(days=days_old)).isoformat()
    if naive and when:
        when = when.removesuffix("+00:00")
    return Citation(
        number,
        f"Page {number}",
        f"https://wiki/{number}",
        "",
        "…",
        f"c{number}",
        f"kb:{number}",
        f"Page {number}",
        updated_at=when,
        updated_by=by,
    )


def answer(*citations: Citation, found: bool = True) -> Answer:
    return mark_stale(
        Answer("q?", "It is so [1].", list(citations), "extractive", found=found),
        stale_days=365,
        now=NOW,
    )


def test_a_source_says_how_long_ago_and_by_whom_it_was_updated():
    shown = answer(source(1, 3, "Ada Lovelace"), source(2, 0.01), source(3, None, "Grace"))
    assert [updated_text(c, NOW) for c in shown.citations] == [
        "updated 3 days ago by Ada Lovelace",
        "updated 14 minutes ago",
        "updated by Grace",
    ]
    assert updated_text(source(4, None), NOW) == ""  # the source says neither
    assert not shown.stale and stale_notice(shown, NOW) == ""


def test_sources_older_than_the_stale_days_are_marked_and_unknown_dates_never_are():
    shown = answer(source(1, 400, "Ada"), source(2, 30), source(3, None))
    assert [c.stale for c in shown.citations] == [True, False, False]
    assert updated_text(shown.citations[0], NOW) == (
        "updated 1 year, 1 month ago by Ada · may be out of date"
    )
    assert not shown.stale  # one fresh source is enough


def test_an_answer_built_only_from_stale_sources_says_so():
    shown = answer(source(1, 800), source(2, 400, naive=True))  # a time without zone is UTC
    assert shown.stale
    notice = stale_notice(shown, NOW)
    assert notice == (
        "Every source of this answer is old (the newest was updated 1 year, 1 month ago): "
        "it may be out of date."
    )
    blocks = answer_blocks(shown, "a1", now=NOW)
    assert blocks[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f":warning: {notice}"}],
    }
    assert ":warning: _updated 2 years ago · may be out of date_" in blocks[3]["text"]["text"]
    teams = answer_activity(shown, NOW)
    assert "⚠️ Every source of this answer is old" in teams.text
    abstract = teams.entities[0].model_extra["citation"][0]["appearance"]["abstract"]
    assert abstract.startswith("Updated 2 years ago · may be out of date. ")


def test_the_closest_sources_of_an_answer_not_found_do_not_make_it_stale():
    shown = answer(source(1, 800), found=False)
    assert shown.citations[0].stale and not shown.stale


def test_an_answer_stored_before_sources_had_dates_reads_back_without_them():
    stored = answer(source(1, 3, "Ada")).as_dict()
    for citation in stored["citations"]:
        for key in ("updated_at", "updated_by", "stale"):
            del citation[key]
    del stored["stale"]
    read = Answer.from_dict(stored)
    assert not read.stale and updated_text(read.citations[0], NOW) == ""
