"""The sources file (YAML): which Confluence spaces and ticket exports to sync, and when.

```yaml
sources:
  eng-wiki:
    type: confluence
    url: https://acme.atlassian.net/wiki     # Data Center: https://wiki.acme.com (+ context path)
    deployment: cloud                        # or datacenter (personal access token)
    email: knowhere-bot@acme.com             # cloud only
    token_env: CONFLUENCE_TOKEN              # the environment variable holding the token
    spaces: [ENG, OPS]
    attachments: true                        # PDF, DOCX and text attachments
    schedule: {incremental: "*/15 * * * *", full: "30 3 * * *"}
  support:
    # jira-csv, jira-json, zendesk, servicenow-csv, servicenow-json, tickets-csv, tickets-jsonl
    type: jira-csv
    path: exports/jira/*.csv                 # relative to this file
    url: https://acme.atlassian.net          # for links to each ticket
    personal_data: hash                      # drop | hash | keep (default: KNOWHERE_PERSONAL_DATA)
```

Secrets are never written in the file: `token_env` names the variable that holds one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ..access.model import PUBLIC, Access
from ..errors import ConfigError
from .confluence.client import ConfluenceAuth
from .tickets.formats import READERS
from .tickets.people import PersonalData


class Schedule(BaseModel):
    """Cron expressions (minute hour day-of-month month day-of-week) run by Celery beat."""

    model_config = ConfigDict(extra="forbid")

    incremental: str | None = "*/15 * * * *"
    full: str | None = "30 3 * * *"
    directory: str | None = "*/15 * * * *"  # Confluence: groups and their members


class AccessSpec(BaseModel):
    """Who may read: everyone (`public: true`), or these users (e-mail) and groups."""

    model_config = ConfigDict(extra="forbid")

    public: bool = False
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)

    def access(self) -> Access:
        return PUBLIC if self.public else Access.restricted(self.users, self.groups)


class SourceConfig(BaseModel):
    """One source of the sources file: a Confluence site's spaces, or ticket export files."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    type: Literal["confluence"] | str
    schedule: Schedule = Field(default_factory=Schedule)
    # Confluence
    url: str | None = None
    deployment: Literal["cloud", "datacenter"] = "cloud"
    email: str = ""
    token_env: str | None = None
    spaces: list[str] = Field(default_factory=list)
    attachments: bool = False
    # Who may read a space when Confluence does not show its permissions to our account.
    space_access: AccessSpec | None = None
    # Data Center shows no e-mails: a username then stands for username@email_domain.
    email_domain: str | None = None
    # Ticket exports
    access: AccessSpec | None = None  # required: who may read this source's tickets
    path: str | None = None
    mapping: dict[str, Any] = Field(default_factory=dict)
    url_template: str | None = None
    personal_data: PersonalData | None = None
    # Set by the loader: the sources file's folder, against which `path` is resolved.
    base_dir: Path = Path(".")

    @property
    def is_confluence(self) -> bool:
        return self.type == "confluence"

    def auth(self) -> ConfluenceAuth:
        if not self.token_env:
            raise ConfigError(f"source '{self.name}': set token_env (the variable with the token)")
        token = os.environ.get(self.token_env)
        if not token:
            raise ConfigError(
                f"source '{self.name}': the environment variable {self.token_env} is not set"
            )
        if self.deployment == "cloud" and not self.email:
            raise ConfigError(f"source '{self.name}': Confluence Cloud needs `email`")
        return ConfluenceAuth(self.deployment, SecretStr(token), self.email)

    def files(self) -> list[Path]:
        """The export files of a ticket source (a file, a folder or a glob pattern)."""
        if not self.path:
            raise ConfigError(f"source '{self.name}': set `path` to the export file(s)")
        pattern = Path(self.path).expanduser()
        if not pattern.is_absolute():
            pattern = self.base_dir / pattern
        if pattern.is_dir():
            return sorted(p for p in pattern.iterdir() if p.is_file())
        if any(ch in str(pattern) for ch in "*?["):
            return sorted(p for p in pattern.parent.glob(pattern.name) if p.is_file())
        if not pattern.exists():
            raise ConfigError(f"source '{self.name}': {pattern} does not exist")
        return [pattern]


def _validate(name: str, raw: Any, base_dir: Path, origin: Path) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: source '{name}' must be a mapping")
    try:
        config = SourceConfig(**{**raw, "name": name, "base_dir": base_dir})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"{origin}: source '{name}': {problems}") from None
    if config.is_confluence:
        if not config.url or not config.spaces:
            raise ConfigError(f"{origin}: source '{name}': Confluence needs `url` and `spaces`")
        if config.access is not None:
            raise ConfigError(
                f"{origin}: source '{name}': Confluence's own permissions decide who reads its "
                "pages; `access` is for ticket sources (use `space_access` where Confluence "
                "does not show a space's permissions)"
            )
        return config
    if config.type not in READERS:
        known = ", ".join(["confluence", *READERS])
        raise ConfigError(f"{origin}: source '{name}': unknown type '{config.type}' ({known})")
    if config.space_access is not None:
        raise ConfigError(
            f"{origin}: source '{name}': `space_access` is for Confluence sources; a ticket "
            "source says who may read its tickets with `access`"
        )
    if config.access is None:
        raise ConfigError(
            f"{origin}: source '{name}': add `access:` to say who may read its tickets, e.g. "
            "`access: {groups: [support]}` (or `access: {public: true}` for everyone)"
        )
    if not config.access.public and not (config.access.users or config.access.groups):
        raise ConfigError(
            f"{origin}: source '{name}': `access` needs `public: true`, `users` or `groups`"
        )
    return config


def load_sources(path: Path | None) -> dict[str, SourceConfig]:
    """Every source declared in the sources file, validated."""
    if path is None:
        raise ConfigError("No sources file: set KNOWHERE_SOURCES_FILE to your sources YAML.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"cannot read the sources file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected `sources:` with one entry per source name")
    base = path.resolve().parent
    return {str(name): _validate(str(name), raw, base, path) for name, raw in entries.items()}


def get_source(path: Path | None, name: str) -> SourceConfig:
    sources = load_sources(path)
    if name not in sources:
        raise ConfigError(f"no source '{name}' in {path} (known: {', '.join(sources) or 'none'})")
    return sources[name]
