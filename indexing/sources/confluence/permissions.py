"""Who may read a Confluence page: Confluence's own rule, as access clauses.

A reader needs the space's read permission *and*, at every restricted level (the page and
each of its ancestors with a read restriction), to be one of that level's users or in one of
its groups. So the space permission is one clause and each restricted level another; the
index requires every clause. Users are e-mail addresses where Confluence shows them, else
account ids (Cloud) or usernames (Data Center), all of them kept so that a reader matches by
whichever identity is resolved for them.

Whatever cannot be read is closed: a space whose permissions name nobody lets nobody in, and
a restriction payload of an unexpected shape raises `PermissionsUnreadable` so that the page
is reported and left out, never indexed as public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...access.model import PUBLIC, Access, Clause
from ...errors import SourceError
from .client import ConfluenceClient


class PermissionsUnreadable(ValueError):
    """A permissions or restrictions payload is not what Confluence documents."""


def user_ids(user: Any) -> set[str]:
    """Every identity of a user object that an access list may name."""
    if not isinstance(user, dict):
        raise PermissionsUnreadable(f"a user entry is {type(user).__name__}, not an object")
    ids = {
        str(user[key]).strip().lower()
        for key in ("email", "accountId", "username", "userKey")
        if user.get(key)
    }
    if not ids:
        raise PermissionsUnreadable("a user entry has no e-mail, account id or username")
    return ids


def _results(container: Any, kind: str) -> list[Any]:
    if container is None:
        return []
    if not isinstance(container, dict):
        raise PermissionsUnreadable(f"'{kind}' is {type(container).__name__}, not an object")
    results = container.get("results", [])
    if not isinstance(results, list):
        raise PermissionsUnreadable(f"'{kind}.results' is not a list")
    return results


def _clause(subjects: Any) -> Clause:
    if not isinstance(subjects, dict):
        raise PermissionsUnreadable("restrictions are not an object")
    users: set[str] = set()
    for user in _results(subjects.get("user"), "user"):
        users |= user_ids(user)
    groups = set()
    for group in _results(subjects.get("group"), "group"):
        if not isinstance(group, dict) or not str(group.get("name") or "").strip():
            raise PermissionsUnreadable("a group entry has no name")
        groups.add(str(group["name"]))
    return Clause.of(users, groups)


def restriction_level(read: Any) -> Clause | None:
    """The clause of one page's read restriction, or None when it restricts nothing."""
    if read is None:
        return None
    if not isinstance(read, dict):
        raise PermissionsUnreadable("the read restriction is not an object")
    clause = _clause(read.get("restrictions", read))
    return None if not clause.users and not clause.groups else clause


def page_access(space: Access, levels: Iterable[Clause | None]) -> Access:
    """A page's effective access: the space's clause and one per restricted level."""
    return space.both(Access(tuple(level for level in levels if level is not None)))


def space_access(client: ConfluenceClient, key: str, fallback: Access | None) -> Access:
    """Read permission of a space (`expand=permissions`), or `fallback` where none are given."""
    data = client.get_json(f"space/{key}", {"expand": "permissions"}, space=key)
    permissions = data.get("permissions")
    if not permissions:
        if fallback is None:
            raise SourceError(
                f"Confluence did not return the permissions of space {key}: the account needs "
                "permission to view them, or declare `space_access` for this source."
            )
        return fallback
    if not isinstance(permissions, list):
        raise SourceError(f"space {key}: the permissions payload is not a list")
    readers = Clause()
    for permission in permissions:
        operation = permission.get("operation", {}) if isinstance(permission, dict) else {}
        if operation.get("operation") != "read" or operation.get("targetType") != "space":
            continue
        if permission.get("anonymousAccess"):
            return PUBLIC
        try:
            clause = _clause(permission.get("subjects") or {})
        except PermissionsUnreadable as err:
            raise SourceError(f"space {key}: unreadable read permission ({err})") from None
        readers = Clause(readers.users | clause.users, readers.groups | clause.groups)
    return Access((readers,))  # a space nobody may read lets nobody in
