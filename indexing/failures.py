"""One shape for everything that did not go through: a file skipped, a record or page that
could not be read, a document that failed to index. Each names the item as the user knows it
(file and line, space and page, document id) and says what is wrong; the rest of the batch
goes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Failure:
    item: str  # "exports/jira.csv, line 12", "space ENG, page 42 (Title)", "kb:hr/pay.md"
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"item": self.item, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Failure:
        return cls(str(data["item"]), str(data["reason"]))
