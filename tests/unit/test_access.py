"""Who may read what: one access type from the folder rules to the check on a hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing import (
    PUBLIC,
    PUBLIC_ONLY,
    Access,
    Audience,
    Clause,
    ConfigError,
    Principal,
    StoreError,
)
from indexing.sources.folder import access_of, load_folder_rules
from indexing.store.schema import MAX_CLAUSES, access_properties, stored_access

HR_ONLY = Access.restricted(users=["CEO@example.com "], groups=["HR"])
ALICE = Principal.of("alice@example.com", ["hr"])
BOB = Principal.of("bob@example.com", ["engineering"])
CEO = Principal.of("ceo@example.com")


def test_an_access_list_survives_every_serialisation_on_its_way():
    assert Access.from_dict(HR_ONLY.to_dict()) == HR_ONLY
    assert stored_access(access_properties(HR_ONLY)) == HR_ONLY
    assert Access.from_dict(None) == PUBLIC  # no access list: public
    assert HR_ONLY.clauses == (Clause(frozenset({"ceo@example.com"}), frozenset({"hr"})),)
    layered = Access((Clause.of(groups=["staff"]), Clause.of(["acc-7"], ["hr"])))
    assert Access.from_dict(layered.to_dict()) == layered
    assert stored_access(access_properties(layered)) == layered
    assert stored_access(access_properties(PUBLIC)) == PUBLIC


def test_every_clause_must_let_the_reader_in():
    """Confluence: the space's permission AND each restricted level's users or groups."""
    space, page = Clause.of(groups=["engineering"]), Clause.of(["cto@example.com"], ["hr"])
    access = Access((space, page))
    assert Principal.of("erin@example.com", ["engineering", "hr"]).may_read(access)
    assert not Principal.of("hanna@example.com", ["hr"]).may_read(access)  # no space permission
    assert not Principal.of("cto@example.com").may_read(access)  # listed, not in engineering
    assert Principal.of("cto@example.com", ["engineering"]).may_read(access)
    assert Principal.of("", ["engineering"], ["CTO@example.com"]).may_read(access)  # another id


def test_what_cannot_be_read_back_is_closed():
    nobody = Access((Clause(),))
    assert not Principal.of("ceo@example.com", ["hr"]).may_read(nobody)
    assert not Audience.of([ALICE]).may_read(stored_access({"acl_public": False}))
    too_deep = Access(tuple(Clause.of(groups=[f"g{i}"]) for i in range(MAX_CLAUSES + 1)))
    with pytest.raises(StoreError, match="at most"):
        access_properties(too_deep)


def test_a_restricted_chunk_needs_every_member_of_the_audience_to_be_allowed():
    assert Audience.of([ALICE]).may_read(HR_ONLY)
    assert Audience.of([CEO]).may_read(HR_ONLY)  # a listed user
    assert not Audience.of([ALICE, BOB]).may_read(HR_ONLY)  # bob is neither
    assert not PUBLIC_ONLY.may_read(HR_ONLY)
    assert PUBLIC_ONLY.may_read(PUBLIC)


def test_an_audience_survives_the_trip_through_a_task_queue():
    audience = Audience.of([ALICE, BOB])
    assert Audience.from_dict(audience.to_dict()) == audience


def test_folder_rules_give_the_first_matching_access_list_and_reject_bad_rules(tmp_path: Path):
    (tmp_path / ".knowhere-access.yml").write_text(
        "rules:\n  - path: 'hr/*'\n    groups: [hr]\n  - path: '*'\n    users: [ceo@example.com]\n"
    )
    rules = load_folder_rules(tmp_path)
    assert access_of("hr/pay.md", rules) == Access.restricted(groups=["hr"])
    assert access_of("board.md", rules) == Access.restricted(users=["ceo@example.com"])
    assert load_folder_rules(tmp_path / "nothing-here") == []

    (tmp_path / ".knowhere-access.yml").write_text("rules:\n  - path: 'x'\n")
    with pytest.raises(ConfigError, match="rule 1 needs `users` and/or `groups`"):
        load_folder_rules(tmp_path)


def test_the_catalog_knows_which_lists_an_audience_may_read(tmp_path: Path):
    from indexing.store.access_lists import AccessCatalog, AccessLists

    lists = AccessLists(f"sqlite:///{tmp_path / 'lists.db'}")
    staff_and_hr = Access((Clause.of(groups=["staff"]), Clause.of(groups=["hr"])))
    staff = Access.restricted(groups=["staff"])
    lists.register([staff_and_hr, staff, PUBLIC])
    catalog = AccessCatalog(lists, ttl_s=0.0)
    alice = Principal.of("alice@example.com", ["staff", "hr"])
    bob = Principal.of("bob@example.com", ["staff"])

    assert catalog.readable(Audience.of([alice])) == sorted(
        [staff.fingerprint(), staff_and_hr.fingerprint()]
    )
    assert catalog.readable(Audience.of([alice, bob])) == [staff.fingerprint()]
    assert catalog.readable(PUBLIC_ONLY) == []

    later = Access.restricted(users=["bob@example.com"])  # a list written after the first load
    lists.register([later, later])  # registering twice is harmless
    assert later.fingerprint() in catalog.readable(Audience.of([bob]))
    lists.close()
