"""Who people are and which groups they are in, from the sources of truth, for every replica.

A directory sync (`knowhere sources directory NAME`, and Celery beat every
`KNOWHERE_DIRECTORY_REFRESH_MINUTES`) reads a Confluence site's groups and their members and
replaces that source's snapshot here, in the SQL database every bot and worker shares. A
chat user's e-mail then resolves to every identity Confluence knows them by (Cloud account
id, Data Center username and key) and to their groups, so restrictions that list account ids
match, and someone removed from a group in Confluence stops reading its pages in every
replica within one refresh (plus the few seconds a replica keeps a lookup). The groups file
(`KNOWHERE_GROUPS_FILE`) is kept as an addition. Someone the directory cannot resolve reads
what their e-mail and the groups file allow, public documents at least.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from ..failures import Failure
from ..infra.database import Base, SqlStore, utc_now
from .groups import GroupDirectory
from .model import Principal, normalise

LOOKUP_TTL_S = 30.0


class PersonRow(Base):
    __tablename__ = "directory_people"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)


class MembershipRow(Base):
    __tablename__ = "directory_memberships"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    group: Mapped[str] = mapped_column(String(300), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(300), primary_key=True)


class SnapshotRow(Base):
    __tablename__ = "directory_snapshots"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class Person:
    """One user of a source: every id it lists them by, and their e-mail ("" if unknown)."""

    ids: frozenset[str]
    email: str = ""


@dataclass
class Snapshot:
    """A source's people and group memberships at one moment, and what could not be read."""

    people: list[Person] = field(default_factory=list)
    memberships: set[tuple[str, str]] = field(default_factory=set)  # (group, user id)
    failures: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        groups = {group for group, _ in self.memberships}
        return {
            "people": len(self.people),
            "with_email": sum(1 for p in self.people if p.email),
            "groups": len(groups),
            "memberships": len(self.memberships),
            "failures": [f.to_dict() for f in self.failures],
        }


class PeopleDirectory(SqlStore):
    """The synced people and memberships of every source, in the shared SQL database."""

    def replace(self, source: str, snapshot: Snapshot) -> None:
        """Swap in a source's new snapshot (one transaction: readers see old or new)."""
        with self._session() as session:
            session.execute(delete(PersonRow).where(PersonRow.source == source))
            session.execute(delete(MembershipRow).where(MembershipRow.source == source))
            rows: dict[str, PersonRow] = {}
            for person in snapshot.people:
                for user_id in person.ids:
                    rows[user_id] = PersonRow(source=source, user_id=user_id, email=person.email)
            session.add_all(rows.values())
            session.add_all(
                MembershipRow(source=source, group=group, user_id=user_id)
                for group, user_id in sorted(snapshot.memberships)
            )
            session.merge(SnapshotRow(source=source, taken_at=utc_now()))

    def groups_of(self, source: str) -> set[str] | None:
        """The groups of a source's last snapshot (None: never synced)."""
        with self._session() as session:
            if session.get(SnapshotRow, source) is None:
                return None
            found = session.scalars(
                select(MembershipRow.group).where(MembershipRow.source == source).distinct()
            )
            return set(found)

    def lookup(self, email: str) -> tuple[frozenset[str], frozenset[str]]:
        """(ids, groups) of the person with this e-mail in every source's snapshot."""
        address = email.strip().lower()
        if not address:
            return frozenset(), frozenset()
        with self._session() as session:
            ids = set(session.scalars(select(PersonRow.user_id).where(PersonRow.email == address)))
            known = ids | {address}  # restrictions may name the e-mail itself
            groups = set(
                session.scalars(
                    select(MembershipRow.group).where(MembershipRow.user_id.in_(sorted(known)))
                )
            )
        return frozenset(ids), normalise(groups)


class Directory:
    """Principals by e-mail: the synced directory plus the groups file, each lookup kept
    `ttl_s` seconds (so a change reaches this process within a refresh and `ttl_s`)."""

    def __init__(
        self,
        groups: GroupDirectory,
        people: PeopleDirectory | None = None,
        ttl_s: float = LOOKUP_TTL_S,
    ) -> None:
        self.groups = groups
        self.people = people
        self.ttl_s = ttl_s
        self._recent: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def principal(self, email: str | None) -> Principal:
        address = (email or "").strip().lower()
        now = time.monotonic()
        with self._lock:
            recent = self._recent.get(address)
            if recent and recent[0] > now:
                return recent[1]
        from_file = self.groups.principal(address)
        ids: Iterable[str] = ()
        groups: Iterable[str] = from_file.groups
        if self.people is not None and address:
            found_ids, found_groups = self.people.lookup(address)
            ids, groups = found_ids, set(from_file.groups) | found_groups
        principal = Principal.of(address, groups, ids)
        with self._lock:
            self._recent[address] = (now + self.ttl_s, principal)
        return principal

    def close(self) -> None:
        if self.people is not None:
            self.people.close()
