"""Who may read what: one access type for documents and chunks, principals and audiences.

A document is public, or guarded by one or more *clauses*: every clause must let the reader
in, and a clause lets in its users (e-mail addresses, or the source's own user ids) and the
members of its groups. That is Confluence's rule: a reader needs the space permission *and*,
at every restricted level (the page and each restricted ancestor), to be one of its users or
in one of its groups. A folder rule or a ticket source's `access:` is a single clause.

A question is asked on behalf of an *audience*: one person in a direct message, every member
of a channel otherwise. Only chunks that every principal of the audience may read are used,
so a restricted passage never reaches a channel where someone may not read it.

`Access` is the one shape of an access list from the connector that reads it to the check
on a search hit; `to_dict`/`from_dict` is its serialisation (document metadata, task
payloads), and the store maps it to its own properties. A clause that names nobody lets
nobody in: what cannot be read is closed, never open.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def normalise(values: Iterable[str]) -> frozenset[str]:
    """Identities compare case-insensitively and without surrounding blanks."""
    return frozenset(v.strip().lower() for v in values if v and v.strip())


@dataclass(frozen=True, order=True)
class Clause:
    """One level that must let the reader in: any of these users, or a member of any group."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, users: Iterable[str] = (), groups: Iterable[str] = ()) -> Clause:
        return cls(normalise(users), normalise(groups))

    def allows(self, identities: frozenset[str], groups: frozenset[str]) -> bool:
        return bool(self.users & identities) or bool(self.groups & groups)

    def to_dict(self) -> dict[str, list[str]]:
        return {"users": sorted(self.users), "groups": sorted(self.groups)}


@dataclass(frozen=True)
class Access:
    """Public (no clauses), or readable by whoever every clause lets in."""

    clauses: tuple[Clause, ...] = ()

    def __post_init__(self) -> None:
        # One canonical form: the same rule always compares, hashes and stores the same.
        canonical = tuple(
            sorted(set(self.clauses), key=lambda c: (sorted(c.users), sorted(c.groups)))
        )
        object.__setattr__(self, "clauses", canonical)

    @property
    def public(self) -> bool:
        return not self.clauses

    @classmethod
    def restricted(cls, users: Iterable[str] = (), groups: Iterable[str] = ()) -> Access:
        """A single clause: these users and the members of these groups."""
        return cls((Clause.of(users, groups),))

    def both(self, other: Access) -> Access:
        """Readable only by those both lists let in (every clause of each)."""
        return Access(self.clauses + other.clauses)

    def allows(self, identities: frozenset[str], groups: frozenset[str]) -> bool:
        return all(clause.allows(identities, groups) for clause in self.clauses)

    def to_dict(self) -> dict[str, Any]:
        return {"clauses": [clause.to_dict() for clause in self.clauses]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Access:
        """The access list serialised by `to_dict`; none at all means public."""
        if not data:
            return PUBLIC
        if "clauses" not in data:  # a single list (`{public, users, groups}`)
            if data.get("public", False):
                return PUBLIC
            return cls.restricted(data.get("users") or (), data.get("groups") or ())
        return cls(
            tuple(Clause.of(c.get("users") or (), c.get("groups") or ()) for c in data["clauses"])
        )

    def fingerprint(self) -> str:
        """A short hash of the rule, to tell whether a document's access changed."""
        encoded = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]


PUBLIC = Access()


@dataclass(frozen=True)
class Principal:
    """One person: e-mail (lower case; empty when unknown), the other ids a source knows them
    by (a Confluence account id or username), and the groups they belong to."""

    email: str = ""
    groups: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, email: str | None, groups: Iterable[str] = (), ids: Iterable[str] = ()
    ) -> Principal:
        return cls(
            (email or "").strip().lower(),
            tuple(sorted(normalise(groups))),
            tuple(sorted(normalise(ids))),
        )

    @property
    def identities(self) -> frozenset[str]:
        return frozenset([self.email, *self.ids]) - {""}

    @property
    def reads_restricted(self) -> bool:
        """Whether any access list could name this person (else: public documents only)."""
        return bool(self.identities or self.groups)

    def may_read(self, access: Access) -> bool:
        return access.allows(self.identities, frozenset(self.groups))


@dataclass(frozen=True)
class Audience:
    """Everyone who will see an answer. No principals at all means: public documents only."""

    principals: tuple[Principal, ...] = ()

    @classmethod
    def of(cls, principals: Iterable[Principal]) -> Audience:
        return cls(tuple(sorted(set(principals), key=lambda p: (p.email, p.groups, p.ids))))

    def may_read(self, access: Access) -> bool:
        if access.public:
            return True
        return bool(self.principals) and all(p.may_read(access) for p in self.principals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "principals": [
                {"email": p.email, "groups": list(p.groups), "ids": list(p.ids)}
                for p in self.principals
            ]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        return cls.of(
            Principal.of(p.get("email"), p.get("groups", ()), p.get("ids", ()))
            for p in data["principals"]
        )


PUBLIC_ONLY = Audience()
