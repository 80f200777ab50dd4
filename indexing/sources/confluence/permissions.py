"""Who may read a Confluence page: the space's read permission and the pages' restrictions.

A page's own read restriction and its ancestors' apply (each level must allow a reader, so
they are intersected); an unrestricted page gets the space's read permissions. Users are
e-mail addresses where Confluence shows them, else account ids (Cloud) or usernames.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...access.model import PUBLIC, Access
from ...errors import SourceError
from .client import ConfluenceClient


def _user_id(user: dict[str, Any]) -> str:
    return str(
        user.get("email") or user.get("username") or user.get("accountId") or user.get("userKey")
    ).lower()


def restriction_level(read: dict[str, Any] | None) -> Access | None:
    """The users/groups of one read restriction, or None when the level restricts nothing."""
    if not read:
        return None
    restrictions = read.get("restrictions", read)
    users = {_user_id(u) for u in restrictions.get("user", {}).get("results", [])}
    groups = {
        str(g.get("name", "")).lower() for g in restrictions.get("group", {}).get("results", [])
    }
    users.discard("none")
    groups.discard("")
    if not users and not groups:
        return None
    return Access(public=False, users=frozenset(users), groups=frozenset(groups))


def combine(levels: Iterable[Access | None], space: Access) -> Access:
    """Effective access: every restricted level must allow the reader (intersection)."""
    restricted = [level for level in levels if level is not None]
    if not restricted:
        return space
    users, groups = set(restricted[0].users), set(restricted[0].groups)
    for level in restricted[1:]:
        users &= level.users
        groups &= level.groups
    return Access(public=False, users=frozenset(users), groups=frozenset(groups))


def space_access(client: ConfluenceClient, key: str, fallback: Access | None) -> Access:
    """Read permissions of a space (`expand=permissions`), or `fallback` where none are given."""
    data = client.get_json(f"space/{key}", {"expand": "permissions"}, space=key)
    permissions = data.get("permissions")
    if not permissions:
        if fallback is None:
            raise SourceError(
                f"Confluence did not return the permissions of space {key}: the account needs "
                "permission to view them, or declare `space_access` for this source."
            )
        return fallback
    users: set[str] = set()
    groups: set[str] = set()
    for permission in permissions:
        operation = permission.get("operation", {})
        if operation.get("operation") != "read" or operation.get("targetType") != "space":
            continue
        if permission.get("anonymousAccess"):
            return PUBLIC
        subjects = permission.get("subjects", {})
        users |= {_user_id(u) for u in subjects.get("user", {}).get("results", [])}
        groups |= {
            str(g.get("name", "")).lower() for g in subjects.get("group", {}).get("results", [])
        }
    return Access(public=False, users=frozenset(users), groups=frozenset(groups - {""}))
