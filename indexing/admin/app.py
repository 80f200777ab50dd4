"""The admin page's web app (aiohttp, Jinja2 templates rendered on the server).

Never open: it does not start without KNOWHERE_ADMIN_TOKEN (16 characters or more). The token
is entered once on /login, which sets an HttpOnly, SameSite=Strict session cookie holding an
HMAC of the token (never the token itself); scripts may send `Authorization: Bearer <token>`.
Pages carry a Content-Security-Policy that allows nothing from elsewhere and no script at
all: the plots are SVG drawn on the server, the style sheet is served here. GET /healthz is
open (for probes).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta
from importlib.resources import files
from typing import Any

import jinja2
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from .. import jobs
from ..errors import ConfigError
from ..settings import Settings
from . import plots

COOKIE = "knowhere_admin"
MIN_TOKEN = 16
HEADERS = {
    "Content-Security-Policy": (
        # Inline styles: matplotlib's SVG styles its shapes with attributes and <style>.
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
WINDOWS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}


def admin_token(settings: Settings) -> str:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        raise ConfigError(
            "KNOWHERE_ADMIN_TOKEN is not set: the admin page never runs without one "
            "(generate one with `openssl rand -hex 24`)"
        )
    if len(token) < MIN_TOKEN:
        raise ConfigError(f"KNOWHERE_ADMIN_TOKEN is too short: use at least {MIN_TOKEN} characters")
    return token


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"knowhere-admin-session", hashlib.sha256).hexdigest()


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("indexing.admin") / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def admin_app(settings: Settings) -> web.Application:
    token = admin_token(settings)
    session = session_value(token)
    templates = _templates()
    stylesheet = (files("indexing.admin") / "static" / "admin.css").read_text()

    def signed_in(request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(cookie, session) or (
            bool(bearer) and hmac.compare_digest(bearer, token)
        )

    def page(name: str, status: int = 200, **values: Any) -> web.Response:
        body = templates.get_template(name).render(**values)
        return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)

    async def login_form(_: web.Request) -> web.Response:
        return page("login.html.j2", error="")

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        given = str(form.get("token", ""))
        if not hmac.compare_digest(given.encode(), token.encode()):
            await asyncio.sleep(1)  # a guess per second, at most
            return page("login.html.j2", status=401, error="That is not the admin token.")
        response = web.HTTPSeeOther("/", headers=HEADERS)
        response.set_cookie(
            COOKIE, session, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
        return response

    async def logout(_: web.Request) -> web.Response:
        response = web.HTTPSeeOther("/login", headers=HEADERS)
        response.del_cookie(COOKIE, path="/")
        return response

    async def dashboard(request: web.Request) -> web.Response:
        if not signed_in(request):
            raise web.HTTPSeeOther("/login", headers=HEADERS)
        window = request.query.get("since", "30d")
        try:
            since = WINDOWS.get(window) or TypeAdapter(timedelta).validate_python(window)
        except ValidationError:
            since = timedelta(0)
        if not timedelta(hours=1) <= since <= timedelta(days=366):
            return page(
                "error.html.j2",
                status=400,
                message=f"'{window}' is not a window of an hour to a year, such as 30d",
            )
        data = await asyncio.to_thread(jobs.dashboard, settings, since)
        return page(
            "dashboard.html.j2",
            data=data,
            window=window,
            windows=list(WINDOWS),
            plots={
                "answers": plots.answers_per_day(data.days),
                "votes": plots.votes_per_day(data.days),
                "latency": plots.latency_per_day(data.days),
                "embedders": plots.ndcg_per_embedder(data.embedders),
            },
        )

    async def style(_: web.Request) -> web.Response:
        return web.Response(text=stylesheet, content_type="text/css", headers=HEADERS)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.add_routes(
        [
            web.get("/", dashboard),
            web.get("/login", login_form),
            web.post("/login", login),
            web.post("/logout", logout),
            web.get("/static/admin.css", style),
            web.get("/healthz", health),
        ]
    )
    return application


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    application = admin_app(settings)
    web.run_app(
        application,
        host=host or settings.admin_host,
        port=port or settings.admin_port,
        print=lambda message: print(message, flush=True),
        access_log=None,
    )
