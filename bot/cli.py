"""`knowhere-bot`: run the Slack bot (HTTP Events API or Socket Mode) or the Teams bot."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from aiohttp import ClientSession, ClientTimeout, web

from indexing import ChunkStore, ConfigError, KnowhereError, Settings, compose
from indexing.observability.logs import configure_logging

from .admission import Admission
from .cache import SharedAudiences
from .dedupe import Deduper
from .escalation import Escalation
from .runner import AnswerRunner, CeleryRunner, InlineRunner, MeasuredRunner
from .server import slack_routes, web_app
from .slack.app import SlackBot, build_app, web_client
from .slack.people import SlackPeople
from .verification import Experts

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


def _responsive_event_loop() -> None:
    # Answers are computed on a thread; the event loop that acknowledges requests must get
    # the GIL back quickly (default 5 ms: under a burst, every await pays it again).
    sys.setswitchinterval(0.0005)


def _logging(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)


def _runner(settings: Settings, weaviate_client: Any, surface: str) -> AnswerRunner:
    if settings.answer_runner == "celery":
        return MeasuredRunner(CeleryRunner(settings), surface, settings.log_questions)
    service = compose.build_answer_service(weaviate_client, settings)
    service.warm_up()  # load the model now, not on the first question
    threads = settings.answer_threads
    if threads > 1:  # small batches: several one-core answers beat one many-core answer
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // threads))
    _responsive_event_loop()
    return MeasuredRunner(
        InlineRunner(service, concurrency=threads), surface, settings.log_questions
    )


@app.command()
def slack(
    socket: Annotated[bool, typer.Option("--socket", help="Socket Mode instead of HTTP")] = False,
    host: Annotated[str | None, typer.Option(help="Listen address (HTTP mode)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (HTTP mode)")] = None,
) -> None:
    """Answer questions in Slack."""
    settings = Settings()
    _logging(settings)
    try:
        token = _secret(settings, "slack_bot_token")
        secret = "" if socket else _secret(settings, "slack_signing_secret")
        app_token = _secret(settings, "slack_app_token") if socket else ""
        weaviate_client = compose.connect_weaviate(settings)
        runner = _runner(settings, weaviate_client, "slack")
        client = web_client(token, settings.slack_api_url)
        bot = SlackBot(
            runner=runner,
            answer_log=compose.open_answer_log(settings),
            people=SlackPeople(
                client,
                compose.directory(settings),
                SharedAudiences(settings.redis_url, "knowhere:audience:slack:"),
            ),
            deduper=Deduper(settings.redis_url),
            store=ChunkStore(weaviate_client, settings.collection),
            escalation=Escalation.from_settings(settings),
            experts=Experts.from_settings(settings),
            admission=Admission.from_settings(settings, "slack"),
            prompts=tuple(settings.slack_suggested_prompts),
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
                await bot.people.close()
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


@app.command()
def teams(
    host: Annotated[str | None, typer.Option(help="Listen address")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port")] = None,
) -> None:
    """Answer questions in Microsoft Teams (Bot Framework messages at POST /api/messages)."""
    from .server import teams_routes
    from .teams.app import TeamsBot, auth_configuration, build_agent
    from .teams.keys import use_openid_metadata
    from .teams.people import TeamsPeople

    settings = Settings()
    _logging(settings)
    try:
        config = auth_configuration(settings)
        weaviate_client = compose.connect_weaviate(settings)
        bot = TeamsBot(
            runner=_runner(settings, weaviate_client, "teams"),
            answer_log=compose.open_answer_log(settings),
            people=TeamsPeople(
                compose.directory(settings),
                SharedAudiences(settings.redis_url, "knowhere:audience:teams:"),
            ),
            deduper=Deduper(settings.redis_url),
            store=ChunkStore(weaviate_client, settings.collection),
            escalation=Escalation.from_settings(settings, "teams"),
            experts=Experts.from_settings(settings),
            admission=Admission.from_settings(settings, "teams"),
        )
    except KnowhereError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if settings.teams_openid_metadata_url:
        use_openid_metadata(settings.teams_openid_metadata_url)
    agent, adapter = build_agent(bot, config)
    application = web_app(teams_routes(agent, adapter), {"agent_configuration": config})

    async def close_connections(_: web.Application) -> None:
        await bot.finish()  # answers being made still reach their askers
        await bot.deduper.close()
        await bot.people.close()

    application.on_cleanup.append(close_connections)
    listen_host, listen_port = host or settings.bot_host, port or 3978
    log.info("Teams messages on http://%s:%s/api/messages", listen_host, listen_port)
    try:
        web.run_app(application, host=listen_host, port=listen_port, print=None, access_log=None)
    finally:
        weaviate_client.close()
        bot.answer_log.close()


@app.command("teams-package")
def teams_package(
    host: Annotated[str, typer.Option(help="Public host of the bot, e.g. knowhere.example.com")],
    app_id: Annotated[
        str | None, typer.Option(help="Azure Bot app id (default: KNOWHERE_TEAMS_APP_ID)")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the zip")] = Path("knowhere-teams.zip"),
) -> None:
    """Build the Teams app package to upload (manifest + icons from deploy/teams/)."""
    from .teams.package import build_package

    chosen = app_id or Settings().teams_app_id
    if not chosen:
        raise ConfigError("give --app-id or set KNOWHERE_TEAMS_APP_ID")
    typer.echo(str(build_package(chosen, host, out)))


def main() -> None:
    try:
        app()
    except KnowhereError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
