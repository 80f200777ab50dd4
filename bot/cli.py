"""`knowhere-bot`: run the Slack bot (HTTP Events API or Socket Mode)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer
from aiohttp import ClientSession, ClientTimeout, web

from indexing import wiring
from indexing.errors import ConfigError, KnowhereError
from indexing.settings import Settings
from indexing.store import ChunkStore, connect

from .dedupe import Deduper
from .runner import AnswerRunner, CeleryRunner, InlineRunner
from .server import slack_routes, web_app
from .slack.app import SlackBot, build_app, web_client
from .slack.people import SlackPeople

app = typer.Typer(help="Knowhere's chat bots.", no_args_is_help=True)
log = logging.getLogger("knowhere.bot")


@app.callback()
def bots() -> None:
    """Run one of Knowhere's chat bots (settings from KNOWHERE_* variables)."""


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if value is None or not value.get_secret_value():
        raise ConfigError(f"KNOWHERE_{name.upper()} is not set (see README: Connect to Slack)")
    return str(value.get_secret_value())


@app.command()
def slack(
    socket: Annotated[bool, typer.Option("--socket", help="Socket Mode instead of HTTP")] = False,
    host: Annotated[str | None, typer.Option(help="Listen address (HTTP mode)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (HTTP mode)")] = None,
) -> None:
    """Answer questions in Slack."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    try:
        token = _secret(settings, "slack_bot_token")
        secret = "" if socket else _secret(settings, "slack_signing_secret")
        app_token = _secret(settings, "slack_app_token") if socket else ""
        weaviate_client = connect(settings)
        runner: AnswerRunner
        if settings.answer_runner == "celery":
            runner = CeleryRunner(settings)
        else:
            service = wiring.build_answer_service(weaviate_client, settings)
            service.retriever.embedder.get_query_embedding("warm up")
            runner = InlineRunner(service)
        client = web_client(token, settings.slack_api_url)
        bot = SlackBot(
            runner=runner,
            answer_log=wiring.open_answer_log(settings),
            people=SlackPeople(client, wiring.group_directory(settings)),
            deduper=Deduper(settings.redis_url),
            store=ChunkStore(weaviate_client, settings.collection),
        )
    except KnowhereError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    bolt = build_app(bot, client, secret, settings.slack_command)
    try:
        if socket:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            asyncio.run(AsyncSocketModeHandler(bolt, app_token).start_async())
        else:
            listen_host, listen_port = host or settings.bot_host, port or settings.bot_port
            log.info("Slack events on http://%s:%s/slack/events", listen_host, listen_port)
            application = web_app(slack_routes(bolt, secret))

            async def open_session(_: web.Application) -> None:
                # One pooled HTTP session for every Web API call (not one per call).
                client.session = ClientSession(timeout=ClientTimeout(total=30))

            async def close_connections(_: web.Application) -> None:
                await bot.deduper.close()
                if client.session is not None:
                    await client.session.close()

            application.on_startup.append(open_session)
            application.on_cleanup.append(close_connections)
            web.run_app(
                application, host=listen_host, port=listen_port, print=None, access_log=None
            )
    finally:
        weaviate_client.close()
        bot.answer_log.close()


def main() -> None:
    try:
        app()
    except KnowhereError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
