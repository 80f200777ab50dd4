"""The access rule as a Weaviate filter: chunks that every member of an audience may read.

A chunk passes when it is public, or when its access list is one the audience may read:
`acl_public = true OR acl_id IN (…)`, the ids worked out beforehand from the index's access
lists (`access_lists.AccessCatalog`). One condition however large the channel; the rule is
checked again on the hits (`Audience.may_read` on the list each hit carries), so neither a
stale catalog nor a filter bug can leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from weaviate.classes.query import Filter

from ..access.model import Audience


def audience_filter(audience: Audience, readable: Iterable[str] = ()) -> Any:
    """A Weaviate filter for the chunks every member of `audience` may read, given the ids of
    the access lists they may read (none given: public chunks only)."""
    public = Filter.by_property("acl_public").equal(True)
    ids = sorted(set(readable)) if audience.principals else []
    if not ids:
        return public
    return Filter.any_of([public, Filter.by_property("acl_id").contains_any(ids)])
