"""The access rule as a Weaviate filter: chunks that every principal of an audience may read.

A chunk passes when it is public, or when at every clause position each principal holds a
token there (`u:<identity>`, `g:<group>`, or the position is unused). The same rule is checked
again on the hits (`Audience.may_read`), so a filter bug cannot leak.
"""

from __future__ import annotations

from typing import Any

from weaviate.classes.query import Filter

from ..access.model import Audience, Principal
from .schema import ANY_READER, CLAUSE_PROPERTIES


def _tokens(principal: Principal) -> list[str]:
    return [
        ANY_READER,
        *(f"u:{identity}" for identity in sorted(principal.identities)),
        *(f"g:{group}" for group in principal.groups),
    ]


def audience_filter(audience: Audience) -> Any:
    """A Weaviate filter for the chunks every principal of `audience` may read."""
    public = Filter.by_property("acl_public").equal(True)
    if not audience.principals or not all(p.reads_restricted for p in audience.principals):
        return public  # someone may read only public documents: so may the audience
    clauses = [
        Filter.by_property(name).contains_any(_tokens(principal))
        for principal in audience.principals
        for name in CLAUSE_PROPERTIES
    ]
    return Filter.any_of([public, Filter.all_of(clauses)])
