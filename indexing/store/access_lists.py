"""Every distinct access list in the index, by id, so that the filter stays one condition.

A chunk stores its access list's id (`acl_id`, the list's fingerprint). An index holds few
distinct lists (a space's permission, the restriction chains of its pages), so before a
query the lists are evaluated against the audience here, in Python, and Weaviate is asked for
chunks that are public or whose `acl_id` is one the audience may read: one condition,
however large the channel. Asking Weaviate for every clause of every member instead costs a
condition per member and clause (measured: 50 members added ~70 ms p95 at 100k chunks;
benchmarks/access_control.py).

The lists live in the shared SQL database: any process that writes a chunk registers its
list first, and readers reload them every `ttl_s` seconds. A list written after a reader's
last reload is not yet known to it, so its chunks stay hidden for those seconds: late, never
open.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import JSON, String, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from ..access.model import Access, Audience
from ..infra.database import Base, SqlStore

CATALOG_TTL_S = 5.0
AUDIENCES_KEPT = 256


class AccessListRow(Base):
    __tablename__ = "access_lists"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access: Mapped[dict] = mapped_column(JSON)


class AccessLists(SqlStore):
    """The access lists chunks were written with, by id (content-addressed: never changes)."""

    def register(self, accesses: Iterable[Access]) -> None:
        rows = {a.fingerprint(): a.to_dict() for a in accesses if not a.public}
        if not rows:
            return
        values = [{"id": key, "access": value} for key, value in rows.items()]
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self._session() as session:
            session.execute(insert(AccessListRow).values(values).on_conflict_do_nothing())

    def all(self) -> dict[str, Access]:
        with self._session() as session:
            rows = session.execute(select(AccessListRow.id, AccessListRow.access)).all()
        return {key: Access.from_dict(value) for key, value in rows}


class AccessCatalog:
    """Which access lists an audience may read, from the lists reloaded every `ttl_s`."""

    def __init__(self, lists: AccessLists, ttl_s: float = CATALOG_TTL_S) -> None:
        self.lists = lists
        self.ttl_s = ttl_s
        self._lists: dict[str, Access] = {}
        self._naming: dict[str, set[str]] = {}  # "u:…"/"g:…" → ids of the lists naming it
        self._loaded = float("-inf")
        self._readable: OrderedDict[Audience, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def readable(self, audience: Audience) -> list[str]:
        """Ids of the access lists every member of `audience` may read."""
        with self._lock:
            if time.monotonic() - self._loaded > self.ttl_s:
                self._reload()
            found = self._readable.get(audience)
            if found is None:
                found = sorted(
                    i for i in self._candidates(audience) if audience.may_read(self._lists[i])
                )
                self._readable[audience] = found
                while len(self._readable) > AUDIENCES_KEPT:
                    self._readable.popitem(last=False)
            else:
                self._readable.move_to_end(audience)
            return found

    def _reload(self) -> None:
        self._lists = self.lists.all()
        self._naming = {}
        for list_id, access in self._lists.items():
            for clause in access.clauses:
                for token in [
                    *(f"u:{u}" for u in clause.users),
                    *(f"g:{g}" for g in clause.groups),
                ]:
                    self._naming.setdefault(token, set()).add(list_id)
        self._loaded = time.monotonic()
        self._readable.clear()

    def _candidates(self, audience: Audience) -> set[str]:
        """Lists that name someone of the audience's first member: only those can let the
        whole audience in (the rule is checked on each of them after)."""
        if not audience.principals:
            return set()
        first = audience.principals[0]
        tokens = [*(f"u:{i}" for i in first.identities), *(f"g:{g}" for g in first.groups)]
        return set().union(*(self._naming.get(t, set()) for t in tokens))
