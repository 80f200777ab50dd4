"""The access rule as a Weaviate filter: chunks that every member of an audience may read.

A chunk passes when it is public, or when its access list is one the audience may read:
`acl_id IN ("public", …)`, the ids worked out beforehand from the index's access lists
(`access_lists.AccessCatalog`). One condition however large the channel (measured: an OR
with `acl_public` cost more than the single condition); the rule is
checked again on the hits (`Audience.may_read` on the list each hit carries), so neither a
stale catalog nor a filter bug can leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from weaviate.classes.query import Filter

from ..access.model import Audience
from .schema import PUBLIC_ID


def audience_filter(audience: Audience, readable: Iterable[str] = ()) -> Any:
    """A Weaviate filter for the chunks every member of `audience` may read, given the ids of
    the access lists they may read (none given: public chunks only)."""
    ids = sorted(set(readable)) if audience.principals else []
    return Filter.by_property("acl_id").contains_any([PUBLIC_ID, *ids])
