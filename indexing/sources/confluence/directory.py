"""A Confluence site's groups and their members, as a directory snapshot.

- Groups: `GET /rest/api/group` (paginated).
- Members: Cloud `GET /rest/api/group/member?name=…`, Data Center
  `GET /rest/api/group/{name}/member` (both paginated).
- E-mails: Cloud shows a user's e-mail only where their privacy settings allow; for the
  others `GET /rest/api/user/email?accountId=…` is asked (it answers only for apps allowed to
  read e-mails). Data Center shows none: a source may declare `email_domain`, and a username
  then becomes `username@domain`.

A group or user that cannot be read is reported once and left out, so its members read only
what their other identities allow; nobody gains access from a payload we do not understand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ...access.directory import Person, Snapshot
from ...errors import SourceError
from ...failures import Failure
from .client import ConfluenceClient, Deployment
from .permissions import PermissionsUnreadable, user_ids

LIST_LIMIT = 200


def _email(client: ConfluenceClient, user: dict[str, Any], email_domain: str | None) -> str:
    email = str(user.get("email") or "").strip().lower()
    if email:
        return email
    account = user.get("accountId")
    if account:
        try:
            found = client.get_json("user/email", {"accountId": account})
            return str(found.get("email") or "").strip().lower()
        except SourceError:
            return ""  # hidden, and this account may not read e-mails: unresolved
    username = str(user.get("username") or "").strip().lower()
    if username and email_domain:
        return f"{username}@{email_domain.strip().lower()}"
    return ""


def read_directory(
    client: ConfluenceClient, deployment: Deployment, email_domain: str | None = None
) -> Snapshot:
    """Every group of the site with its members, and each member's identities and e-mail."""
    snapshot = Snapshot()
    people: dict[frozenset[str], Person] = {}
    for group in client.paginate("group", {"limit": LIST_LIMIT}):
        name = str(group.get("name") or "").strip().lower() if isinstance(group, dict) else ""
        if not name:
            snapshot.failures.append(Failure("a group", "a group entry has no name: skipped"))
            continue
        if deployment == "cloud":
            listing = client.paginate("group/member", {"name": name, "limit": LIST_LIMIT})
        else:
            listing = client.paginate(f"group/{quote(name, safe='')}/member", {"limit": LIST_LIMIT})
        try:
            members = list(listing)
        except SourceError as err:
            snapshot.failures.append(Failure(f"group {name}", f"members not readable: {err}"))
            continue
        for user in members:
            try:
                ids = frozenset(i for i in user_ids(user) if "@" not in i)
            except PermissionsUnreadable as err:
                snapshot.failures.append(Failure(f"group {name}", f"a member skipped: {err}"))
                continue
            if not ids:
                continue
            if ids not in people:
                people[ids] = Person(ids, _email(client, user, email_domain))
            snapshot.memberships |= {(name, user_id) for user_id in ids}
    snapshot.people = list(people.values())
    unresolved = [p for p in snapshot.people if not p.email]
    if unresolved:
        example = sorted(next(iter(unresolved)).ids)[0]
        snapshot.failures.append(
            Failure(
                f"{len(unresolved)} user(s), e.g. {example}",
                "no e-mail known: their chat identity cannot be matched (public documents and "
                "the groups file only)",
            )
        )
    return snapshot
