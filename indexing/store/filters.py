"""The access rule as a Weaviate filter: chunks that every principal of an audience may read.

`all_of(any_of(public, users ∋ e-mail, groups ∩ mine))`, one clause per principal; the same
rule is checked again on the hits (`Audience.may_read`), so a filter bug cannot leak.
"""

from __future__ import annotations

from typing import Any

from weaviate.classes.query import Filter

from ..access.model import Audience, Principal


def _principal_filter(principal: Principal) -> Any:
    parts = [Filter.by_property("acl_public").equal(True)]
    if principal.email:
        parts.append(Filter.by_property("acl_users").contains_any([principal.email]))
    if principal.groups:
        parts.append(Filter.by_property("acl_groups").contains_any(list(principal.groups)))
    return parts[0] if len(parts) == 1 else Filter.any_of(parts)


def audience_filter(audience: Audience) -> Any:
    """A Weaviate filter for the chunks every principal of `audience` may read."""
    if not audience.principals or not any(p.email or p.groups for p in audience.principals):
        return Filter.by_property("acl_public").equal(True)
    filters = [_principal_filter(p) for p in audience.principals]
    return filters[0] if len(filters) == 1 else Filter.all_of(filters)
