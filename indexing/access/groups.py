"""Group memberships by e-mail, from the groups file (`KNOWHERE_GROUPS_FILE`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .model import Principal


def read_yaml(path: Path) -> Any:
    """A YAML file's content; ConfigError names the file and what is wrong with it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err


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
        data = read_yaml(path)
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
