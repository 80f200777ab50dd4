"""The bots' HTTP server (aiohttp): Slack's Events API endpoint and a health check."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

SLACK_PATH = "/slack/events"


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


def web_app(routes: list[web.RouteDef]) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.add_routes([web.get("/healthz", health), *routes])
    return application
