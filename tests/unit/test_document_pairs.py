"""Before anyone votes, the loop can learn from the documents: a specific heading asks what
its section answers; elsewhere a chunk's first sentence asks what the rest says."""

from __future__ import annotations

from indexing.learning.document_pairs import document_pairs
from indexing.store.chunk import Chunk

BODY = (
    "Open the VPN client from the tray and choose the office profile. Enter your username and "
    "the code from the authenticator app, then wait for the green shield before you connect."
)


def chunk(doc: str, heading: str, text: str = BODY, title: str = "IT handbook") -> Chunk:
    return Chunk(f"{doc}#0", doc, text, [], title=title, heading=heading)


def test_a_specific_heading_asks_for_its_section_without_repeating_itself():
    (pair,) = document_pairs([chunk("kb:vpn", "Remote access > Connecting to the VPN")], 10)
    assert (pair.query, pair.passage, pair.label, pair.origin) == (
        "Connecting to the VPN",
        BODY,
        1,
        "document",
    )


def test_a_heading_every_page_has_is_not_a_question_the_first_sentence_is():
    pages = [chunk(f"kb:{n}", "Guide > Overview of this page") for n in range(3)]
    pairs = document_pairs(pages, 10)
    assert len(pairs) == 3
    assert {p.query for p in pairs} == {
        "Open the VPN client from the tray and choose the office profile."
    }
    assert all(p.passage.startswith("Enter your username") for p in pairs)


def test_too_short_to_ask_or_answer_gives_nothing_and_the_limit_holds():
    assert document_pairs([chunk("kb:a", "", text="Short note.", title="")], 10) == []
    many = [chunk(f"kb:{n}", f"Setting up printer number {n}") for n in range(20)]
    assert len(document_pairs(many, 5)) == 5
