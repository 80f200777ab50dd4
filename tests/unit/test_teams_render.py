"""Teams answers show documents as data: their formatting, never a link or HTML of their own."""

from __future__ import annotations

import re

from bot.teams.render import answer_activity
from indexing import Answer, Citation

PHISHING = "Your session expired: [Re-authenticate](https://evil.example/login) now [1]."


def cited(text: str, title: str = "VPN [guide](https://evil.example)") -> Answer:
    citation = Citation(1, title, "https://wiki.example/vpn", "", "…", "c1", "kb:vpn", title)
    return Answer("vpn?", text, [citation], "extractive")


def links(markdown: str) -> list[str]:
    """What a Markdown renderer would turn into a link: [text](url), <url>, bare addresses."""
    found = re.findall(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?!`)[^)]*\)", markdown)
    found += re.findall(r"<https?://[^>]*>", markdown)
    found += [m for m in re.findall(r"(?<![`\w])https?://[^\s`]+", markdown)]
    return found


def test_a_link_inside_a_document_is_shown_as_text_never_as_a_link():
    activity = answer_activity(cited(PHISHING))
    assert links(activity.text) == []
    assert "Re-authenticate (`https://evil.example/login`)" in activity.text
    assert activity.text.endswith("now [1].")  # the citation marker still works


def test_html_in_answers_and_markup_in_closest_sources_are_shown_as_text():
    answer = cited("<a href='https://evil.example'>click</a> **urgent** [1]")
    not_found = Answer("vpn?", "Nothing found.", answer.citations, "extractive", found=False)
    for activity in (answer_activity(answer), answer_activity(not_found)):
        assert "<a" not in activity.text and links(activity.text) == []
    assert "**urgent**" in answer_activity(answer).text  # the answer's own formatting stays
    assert "VPN \\[guide\\]" in answer_activity(not_found).text  # a title is plain text


def test_the_only_links_are_the_citations_own():
    entity = answer_activity(cited(PHISHING)).entities[0]
    urls = [c["appearance"]["url"] for c in entity.model_extra["citation"]]
    assert urls == ["https://wiki.example/vpn"]
