"""Who may read what: one access type for documents and chunks, principals and audiences.

A document is public, or readable by the users in its access list (e-mail addresses, else
the source's own user ids) and the members of its groups. A question is asked on behalf of
an *audience*: one person in a direct message, every member of a channel otherwise. Only
chunks that every principal of the audience may read are used, so a restricted passage
never reaches a channel where someone may not read it.

`Access` is the one shape of an access list from the connector that reads it to the check
on a search hit; `to_dict`/`from_dict` is its serialisation (document metadata, Celery
payloads), and the store maps it to its own properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def normalise(values: Iterable[str]) -> frozenset[str]:
    """Identities compare case-insensitively and without surrounding blanks."""
    return frozenset(v.strip().lower() for v in values if v and v.strip())


@dataclass(frozen=True)
class Access:
    """Everyone may read (`public`), or only these users and the members of these groups."""

    public: bool = True
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def restricted(cls, users: Iterable[str] = (), groups: Iterable[str] = ()) -> Access:
        return cls(False, normalise(users), normalise(groups))

    def to_dict(self) -> dict[str, Any]:
        return {"public": self.public, "users": sorted(self.users), "groups": sorted(self.groups)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Access:
        """The access list serialised by `to_dict`; none at all means public."""
        if not data:
            return PUBLIC
        return cls(
            bool(data.get("public", False)),
            normalise(data.get("users") or ()),
            normalise(data.get("groups") or ()),
        )


PUBLIC = Access()


@dataclass(frozen=True)
class Principal:
    """One person: e-mail (lower case; empty when unknown) and the groups they belong to."""

    email: str = ""
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, email: str | None, groups: Iterable[str] = ()) -> Principal:
        return cls((email or "").strip().lower(), tuple(sorted(normalise(groups))))

    def may_read(self, access: Access) -> bool:
        if access.public:
            return True
        if self.email and self.email in access.users:
            return True
        return bool(set(self.groups) & access.groups)


@dataclass(frozen=True)
class Audience:
    """Everyone who will see an answer. No principals at all means: public documents only."""

    principals: tuple[Principal, ...] = ()

    @classmethod
    def of(cls, principals: Iterable[Principal]) -> Audience:
        return cls(tuple(sorted(set(principals), key=lambda p: (p.email, p.groups))))

    def may_read(self, access: Access) -> bool:
        if access.public:
            return True
        return bool(self.principals) and all(p.may_read(access) for p in self.principals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "principals": [{"email": p.email, "groups": list(p.groups)} for p in self.principals]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        return cls.of(Principal.of(p.get("email"), p.get("groups", ())) for p in data["principals"])


PUBLIC_ONLY = Audience()
