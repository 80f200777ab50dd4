"""The sources file says who may read what it brings in, or it is refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing import PUBLIC, Access, ConfigError, load_sources


def sources(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n" + body)
    return path


def test_a_ticket_source_without_access_is_refused_naming_the_source_and_the_key(tmp_path):
    path = sources(tmp_path, "  support:\n    type: jira-csv\n    path: x.csv\n")
    with pytest.raises(ConfigError, match="source 'support': add `access:`"):
        load_sources(path)


def test_a_ticket_source_says_who_may_read_its_tickets(tmp_path):
    body = (
        "  support:\n    type: jira-csv\n    path: x.csv\n    access: {groups: [Support]}\n"
        "  faq:\n    type: zendesk\n    path: y.json\n    access: {public: true}\n"
    )
    declared = load_sources(sources(tmp_path, body))
    assert declared["support"].access is not None
    assert declared["support"].access.access() == Access.restricted(groups=["support"])
    assert declared["faq"].access is not None and declared["faq"].access.access() == PUBLIC


def test_space_access_belongs_to_confluence_and_access_to_tickets(tmp_path):
    body = "  t:\n    type: zendesk\n    path: y.json\n    space_access: {groups: [staff]}\n"
    with pytest.raises(ConfigError, match="`space_access` is for Confluence sources"):
        load_sources(sources(tmp_path, body))
    body = (
        "  wiki:\n    type: confluence\n    url: https://w\n    spaces: [ENG]\n"
        "    access: {public: true}\n"
    )
    with pytest.raises(ConfigError, match="Confluence's own permissions decide"):
        load_sources(sources(tmp_path, body))
    body = "  t:\n    type: zendesk\n    path: y.json\n    access: {}\n"
    with pytest.raises(ConfigError, match="`access` needs `public: true`, `users` or `groups`"):
        load_sources(sources(tmp_path, body))


def test_other_mistakes_are_named_too(tmp_path):
    with pytest.raises(ConfigError, match="Confluence needs `url` and `spaces`"):
        load_sources(sources(tmp_path, "  wiki:\n    type: confluence\n    spaces: [ENG]\n"))
    with pytest.raises(ConfigError, match="unknown type 'excel'"):
        load_sources(sources(tmp_path, "  t:\n    type: excel\n    path: x.xlsx\n"))
