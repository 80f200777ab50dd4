"""The bots' HTTP server (aiohttp): Slack's Events API endpoint, a health check and the
Prometheus metrics (GET /metrics; route only the chat platform's path to the public)."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

SLACK_PATH = "/slack/events"
TEAMS_PATH = "/api/messages"


def slack_routes(app: AsyncApp, signing_secret: str) -> list[web.RouteDef]:
    """POST /slack/events. Signed Events API callbacks are acknowledged before Bolt runs.

    Their response is always an empty 200, so it is sent as soon as the signature checks
    out, and Bolt (which verifies again, dedupes and runs the listeners) gets the request
    right after. Slash commands and button clicks go through Bolt directly: their
    acknowledgement carries a body.
    """
    verifier = SignatureVerifier(signing_secret)
    running: set[asyncio.Task[Any]] = set()

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        if request.content_type == "application/json" and verifier.is_valid_request(
            body, dict(request.headers)
        ):
            payload = json.loads(body)
            if payload.get("type") == "event_callback":
                bolt_request = AsyncBoltRequest(
                    body=body,
                    query=request.query_string,
                    headers=request.headers,  # type: ignore[arg-type]
                )
                task = asyncio.create_task(app.async_dispatch(bolt_request))
                running.add(task)
                task.add_done_callback(running.discard)
                return web.Response(status=200)
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return [web.post(SLACK_PATH, events)]


def teams_routes(agent: Any, adapter: Any) -> list[web.RouteDef]:
    """POST /api/messages: Bot Framework JWT checked by the SDK, then the agent's turn."""
    from microsoft_agents.hosting.aiohttp import jwt_authorization_decorator, start_agent_process

    @jwt_authorization_decorator
    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    return [web.post(TEAMS_PATH, messages)]


def web_app(routes: list[web.RouteDef], state: dict[str, Any] | None = None) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    with warnings.catch_warnings():
        # The Agents SDK reads its settings under a plain string key ("agent_configuration").
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        for key, value in (state or {}).items():
            application[key] = value
    application.add_routes(
        [web.get("/healthz", health), web.get("/metrics", make_aiohttp_handler()), *routes]
    )
    return application
