"""People in tickets: dropped, replaced by a stable keyed pseudonym, or kept."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

PersonalData = Literal["drop", "hash", "keep"]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class People:
    """Replaces people's names and e-mail addresses according to the setting."""

    mode: PersonalData
    key: bytes = b""

    def alias(self, person: str) -> str:
        if not person or self.mode == "keep":
            return person
        if self.mode == "drop":
            return ""
        digest = hmac.new(self.key, person.strip().lower().encode(), hashlib.sha256).hexdigest()
        return f"person-{digest[:8]}"

    def scrub(self, text: str, names: list[str]) -> str:
        if self.mode == "keep":
            return text
        placeholder = "[e-mail]" if self.mode == "drop" else None
        text = EMAIL.sub(lambda m: placeholder or self.alias(m.group(0)), text)
        for name in sorted({n for n in names if n and "@" not in n}, key=len, reverse=True):
            replacement = self.alias(name) or "[name]"
            text = re.sub(rf"\b{re.escape(name)}\b", replacement, text)
            first = name.split()[0]
            if len(first) >= 3 and first != name:
                text = re.sub(rf"\b{re.escape(first)}\b", replacement, text)
        return text
