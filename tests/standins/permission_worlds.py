"""Random Confluence worlds for the access-control proof, with their own ground truth.

A world is a set of users (some whose e-mail Confluence hides), groups, spaces with read
permissions, and page trees with read restrictions at random levels, served by the Confluence
stand-in. Every page's body carries a secret word of its own, so any text shown to anyone can
be traced back to the pages it came from. `may_read` is written from Confluence's documented
rule, independently of Knowhere's code: the space permission, and at every restricted level
(the page and each ancestor) a listed user or a member of a listed group.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from standins.confluence_standin import ConfluenceState, Page

TOPICS = ["vacation", "laptop", "salary", "badge", "parking", "expenses", "onboarding", "vpn"]
SECRET = re.compile(r"\bsecret(\d+)x\b")


@dataclass(frozen=True)
class User:
    account: str
    email: str
    hidden: bool  # Confluence hides the e-mail (privacy): known by account id only


@dataclass
class World:
    state: ConfluenceState
    users: list[User]
    groups: dict[str, set[str]]  # group -> account ids
    spaces: dict[str, tuple[set[str], set[str], bool]] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)

    def _allowed(self, user: User, users: set[str], groups: set[str]) -> bool:
        mine = {g for g, members in self.groups.items() if user.account in members}
        return user.account in users or user.email in users or bool(mine & groups)

    def may_read(self, user: User | None, page_id: str) -> bool:
        """Confluence's rule for one reader (None: someone only public documents are for)."""
        page = self.pages[page_id]
        space_users, space_groups, anonymous = self.spaces[page.space]
        if not anonymous and (user is None or not self._allowed(user, space_users, space_groups)):
            return False
        for level in [*self.state.ancestors(page), page]:
            named = {u.get("accountId") or u.get("email") for u in level.read_users}
            if not named and not level.read_groups:
                continue
            if user is None or not self._allowed(user, named, set(level.read_groups)):
                return False
        return True

    def secrets_in(self, text: str) -> set[str]:
        """Ids of the pages whose secret word appears in `text`."""
        return {m for m in SECRET.findall(text) if m in self.pages}


def body(rng: random.Random, page_id: str, topic: str) -> str:
    words = rng.sample(TOPICS, 3)
    return (
        f"<h1>{topic.title()} rules</h1><p>The {topic} policy: secret{page_id}x applies. "
        f"It also mentions {words[0]} and {words[1]}.</p>"
        f"<h2>Details</h2><p>Ask the {words[2]} desk about {topic}; code secret{page_id}x.</p>"
    )


def generate_world(state: ConfluenceState, seed: int, spaces: int = 2, pages: int = 14) -> World:
    rng = random.Random(seed)
    users = [
        User(f"acc-w{seed}u{i}", f"w{seed}u{i}@corp.example", hidden=rng.random() < 0.4)
        for i in range(8)
    ]
    for user in users:
        if user.hidden:
            state.hidden_emails[user.account] = user.email
    groups = {f"w{seed}g{i}": {u.account for u in users if rng.random() < 0.45} for i in range(4)}
    groups[f"w{seed}all"] = {u.account for u in users}  # like confluence-users: everyone
    world = World(state, users, groups)
    state.groups = {
        name: [
            {"accountId": u.account, **({} if u.hidden else {"email": u.email})}
            for u in users
            if u.account in members
        ]
        for name, members in groups.items()
    }

    def some_users() -> list[dict[str, str]]:
        chosen = [u for u in users if rng.random() < 0.2]
        return [{"accountId": u.account} for u in chosen]

    for number in range(spaces):
        key = f"W{seed}S{number}"
        anonymous = rng.random() < 0.2
        readers_groups = rng.sample(sorted(groups), rng.randint(1, 2))
        readers = some_users()
        state.add_space(
            key,
            f"Space {key}",
            readers_groups=readers_groups,
            readers_users=readers,
            anonymous=anonymous,
        )
        world.spaces[key] = ({u["accountId"] for u in readers}, set(readers_groups), anonymous)
        made: list[Page] = []
        for _ in range(pages):
            parent = rng.choice(made) if made and rng.random() < 0.7 else None
            topic = rng.choice(TOPICS)
            restricted = rng.random() < 0.4
            page = state.add_page(
                key,
                f"{topic.title()} {key}-{len(made)}",
                "",
                parent=parent.id if parent else None,
                read_users=some_users() if restricted else [],
                read_groups=rng.sample(sorted(groups), rng.randint(0, 2)) if restricted else [],
            )
            page.body = body(rng, page.id, topic)
            made.append(page)
            world.pages[page.id] = page
    return world


def shown_text(answer: Any) -> str:
    """Everything an answer shows anyone: its text, citations, and the Teams rendering."""
    from bot.teams.render import answer_activity

    teams = answer_activity(answer)
    parts = [answer.text, teams.text or ""]
    for citation in answer.citations:
        parts += [citation.title, citation.label, citation.snippet, citation.text]
    for entity in teams.entities or []:
        for claim in (entity.model_extra or {}).get("citation", []):
            parts += [str(claim["appearance"]["name"]), str(claim["appearance"]["abstract"])]
    return "\n".join(parts)


def audit(world: World, members: list[User | None], answer: Any) -> tuple[list[str], int]:
    """(pages shown that some member may not read, restricted pages rightly shown)."""
    leaked, rightly = [], 0
    for page_id in sorted(world.secrets_in(shown_text(answer))):
        if not all(world.may_read(m, page_id) for m in members):
            leaked.append(page_id)
        elif not world.may_read(None, page_id):
            rightly += 1
    return leaked, rightly
