"""The Slack app (Bolt, asyncio): what the listeners need, and the app they are registered on.

Every event is acknowledged before any work: Bolt answers Slack's HTTP request as soon as
the middleware has run (signature check, duplicate check) and runs the listeners afterwards.
The listeners themselves are module-level functions in `listeners/` (Bolt's
`listeners/{events,commands,actions}` layout); they find the bot's parts in Bolt's
`context["knowhere"]`, put there by a middleware, so each can be tested with mocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from indexing import AnswerLog, ChunkStore

from ..admission import Admission
from ..dedupe import Deduper
from ..escalation import Escalation
from ..runner import AnswerRunner
from ..verification import Experts
from . import listeners
from .people import SlackPeople

CONTEXT_KEY = "knowhere"


@dataclass
class SlackBot:
    """What the listeners need; built once at start-up (see `bot.cli`)."""

    runner: AnswerRunner
    answer_log: AnswerLog
    people: SlackPeople
    deduper: Deduper
    store: ChunkStore  # to check, before sharing, that a channel may read the sources
    escalation: Escalation | None = None  # where *Still need help* and 🎫 send an answer
    experts: Experts | None = None  # who may verify answers, and where verified ones are kept
    admission: Admission | None = None  # per-user rate limit and bounded queue (None: none)
    prompts: tuple[str, ...] = ()  # an AI app's suggested prompts when no verified ones fit


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out 429s (`Retry-After`) and retries dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def build_app(
    bot: SlackBot, client: AsyncWebClient, signing_secret: str, command: str = "/ask"
) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    @app.middleware
    async def deliver_once(body: dict[str, Any], context: Any, next: Any) -> BoltResponse | None:
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id and not await bot.deduper.first_time(f"slack:{event_id}"):
            return BoltResponse(status=200, body="")  # a retry of an event already handled
        context[CONTEXT_KEY] = bot
        await next()
        return None

    listeners.register(app, command)
    return app
