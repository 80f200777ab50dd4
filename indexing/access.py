"""Who may read what: principals, audiences, access lists on documents, and query filters.

A document is public, or readable by the e-mail addresses in `acl_users` and the members of
the groups in `acl_groups`. A question is asked on behalf of an *audience*: one person in a
direct message, every member of a channel otherwise. Only chunks that every principal of the
audience may read are used, so a restricted passage never reaches a channel where someone
may not read it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from weaviate.classes.query import Filter

from .errors import ConfigError

FOLDER_ACCESS_FILE = ".knowhere-access.yml"


def _norm(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({v.strip().lower() for v in values if v and v.strip()}))


@dataclass(frozen=True)
class Principal:
    """One person: e-mail (lower case; empty when unknown) and the groups they belong to."""

    email: str = ""
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, email: str | None, groups: Iterable[str] = ()) -> Principal:
        return cls((email or "").strip().lower(), _norm(groups))

    def may_read(self, users: Iterable[str], groups: Iterable[str], public: bool) -> bool:
        if public:
            return True
        if self.email and self.email in {u.lower() for u in users}:
            return True
        return bool(set(self.groups) & {g.lower() for g in groups})


@dataclass(frozen=True)
class Audience:
    """Everyone who will see an answer. No principals at all means: public documents only."""

    principals: tuple[Principal, ...] = ()

    @classmethod
    def of(cls, principals: Iterable[Principal]) -> Audience:
        return cls(tuple(sorted(set(principals), key=lambda p: (p.email, p.groups))))

    def may_read(self, users: Iterable[str], groups: Iterable[str], public: bool) -> bool:
        if public:
            return True
        users, groups = list(users), list(groups)
        return bool(self.principals) and all(
            p.may_read(users, groups, public) for p in self.principals
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "principals": [{"email": p.email, "groups": list(p.groups)} for p in self.principals]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        return cls.of(Principal.of(p.get("email"), p.get("groups", ())) for p in data["principals"])


PUBLIC_ONLY = Audience()


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


@dataclass
class GroupDirectory:
    """Group memberships by e-mail, from a YAML mapping file:

    groups:
      hr: [alice@example.com, bob@example.com]
      engineering: [carol@example.com]
    """

    members: dict[str, set[str]] = field(default_factory=dict)  # group -> e-mails

    @classmethod
    def load(cls, path: Path | None) -> GroupDirectory:
        if path is None:
            return cls()
        data = _read_yaml(path)
        groups = data.get("groups", {}) if isinstance(data, dict) else None
        if not isinstance(groups, dict):
            raise ConfigError(f"{path}: expected a mapping `groups: {{name: [e-mails]}}`")
        members = {}
        for name, emails in groups.items():
            if not isinstance(emails, list):
                raise ConfigError(f"{path}: group '{name}' must list e-mail addresses")
            members[str(name).lower()] = {str(e).strip().lower() for e in emails}
        return cls(members)

    def principal(self, email: str | None) -> Principal:
        address = (email or "").strip().lower()
        groups = [g for g, emails in self.members.items() if address and address in emails]
        return Principal.of(address, groups)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err


@dataclass(frozen=True)
class AccessRule:
    """Files matching `pattern` (a glob relative to the folder) are readable only by these."""

    pattern: str
    users: tuple[str, ...]
    groups: tuple[str, ...]


def load_folder_rules(root: Path) -> list[AccessRule]:
    """Rules from `<folder>/.knowhere-access.yml`; files no rule matches are public.

    rules:
      - path: "hr/salaries/*"
        users: [ceo@example.com]
        groups: [hr]
    """
    path = root / FOLDER_ACCESS_FILE
    if not path.exists():
        return []
    data = _read_yaml(path)
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: expected `rules:` with a list of {{path, users, groups}}")
    parsed = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
            raise ConfigError(f"{path}: rule {number} needs a `path` glob")
        users, groups = rule.get("users", []), rule.get("groups", [])
        if not (isinstance(users, list) and isinstance(groups, list)) or not (users or groups):
            raise ConfigError(f"{path}: rule {number} needs `users` and/or `groups` lists")
        parsed.append(AccessRule(rule["path"], _norm(map(str, users)), _norm(map(str, groups))))
    return parsed


def access_metadata(relative_path: str, rules: list[AccessRule]) -> dict[str, Any]:
    """The acl_* metadata of a file: the first matching rule, else public."""
    for rule in rules:
        if fnmatch.fnmatch(relative_path, rule.pattern):
            return {
                "acl_public": False,
                "acl_users": list(rule.users),
                "acl_groups": list(rule.groups),
            }
    return {}
