"""A local stand-in for the Slack Web API, from the payload shapes in Slack's API docs.

It answers the methods the bot calls (auth.test, users.info, conversations.members,
conversations.replies, chat.postMessage, chat.update, chat.postEphemeral, views.open, an AI
app's assistant.threads.setStatus/setSuggestedPrompts/setTitle, usergroups.users.list),
records every
call, and can answer HTTP 429 with `Retry-After` to test rate limiting. Plus helpers that
sign requests the way Slack does (v0 HMAC-SHA256 over `v0:timestamp:body`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

BOT_USER = "UKNOWHERE"
BOT_ID = "BKNOWHERE"
TEAM = "T0TEST"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float


@dataclass
class SlackState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by channel
    calls: list[Call] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=dict)  # method -> 429s to answer
    ai_app: bool = True  # the app is set up as an AI app (assistant.threads.* work)
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # user group id -> users
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: float = field(default_factory=lambda: 1_700_000_000.0)

    def add_user(
        self, user_id: str, email: str | None, is_bot: bool = False, name: str | None = None
    ) -> None:
        profile = {"real_name": name or user_id.title(), "display_name": user_id.lower()}
        if email:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM,
            "name": user_id.lower(),
            "deleted": False,
            "is_bot": is_bot,
            "profile": profile,
        }

    def next_ts(self) -> str:
        with self.lock:
            self._clock += 1.0
            return f"{self._clock:.6f}"

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


def _message(state: SlackState, channel: str, args: dict[str, Any], ts: str) -> dict[str, Any]:
    message = {
        "type": "message",
        "ts": ts,
        "text": args.get("text", ""),
        "user": BOT_USER,
        "bot_id": BOT_ID,
    }
    if args.get("blocks"):
        message["blocks"] = args["blocks"]
    if args.get("thread_ts"):
        message["thread_ts"] = args["thread_ts"]
    state.messages.setdefault(channel, []).append(message)
    return message


def _handle(state: SlackState, method: str, args: dict[str, Any]) -> dict[str, Any]:
    if method == "auth.test":
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "knowhere",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
    if method == "users.info":
        user = state.users.get(args.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
    if method == "conversations.members":
        members = state.channels.get(args.get("channel", ""))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or 100), 2)  # small pages: exercise the cursor
        page = members[start : start + limit]
        cursor = str(start + limit) if start + limit < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}
    if method == "conversations.replies":
        channel, thread = args.get("channel", ""), args.get("ts", "")
        messages = [
            m
            for m in state.messages.get(channel, [])
            if m["ts"] == thread or m.get("thread_ts") == thread
        ]
        return {"ok": True, "messages": messages, "has_more": False}
    if method == "chat.postMessage":
        channel = args["channel"]
        ts = state.next_ts()
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": _message(state, channel, args, ts),
        }
    if method == "chat.update":
        channel, ts = args["channel"], args["ts"]
        for message in state.messages.get(channel, []):
            if message["ts"] == ts:
                message["text"] = args.get("text", "")
                message["blocks"] = args.get("blocks", [])
                return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}
    if method == "chat.postEphemeral":
        members = state.channels.get(args.get("channel", ""))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        if BOT_USER not in members:
            return {"ok": False, "error": "not_in_channel"}
        return {"ok": True, "message_ts": state.next_ts()}
    if method == "usergroups.users.list":
        users = state.usergroups.get(args.get("usergroup", ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": users}
    if method.startswith("assistant.threads."):  # an AI app's threads (Slack's AI apps docs)
        required = {
            "assistant.threads.setStatus": "status",
            "assistant.threads.setSuggestedPrompts": "prompts",
            "assistant.threads.setTitle": "title",
        }.get(method)
        if required is None:
            return {"ok": False, "error": "unknown_method"}
        if not state.ai_app:
            return {"ok": False, "error": "not_allowed_token_type"}
        if not (args.get("channel_id") and args.get("thread_ts")) or required not in args:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}
    if method == "views.open":
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not args.get("trigger_id") or not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {**view, "id": f"V{state.next_ts().replace('.', '')}"}}
    return {"ok": False, "error": "unknown_method"}


def _decode(args: dict[str, Any]) -> dict[str, Any]:
    """Form fields arrive as strings; `blocks` is JSON text there."""
    if isinstance(args.get("blocks"), str):
        args["blocks"] = json.loads(args["blocks"])
    return args


class _Handler(BaseHTTPRequestHandler):
    state: SlackState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        url = urlparse(self.path)
        if url.path.startswith("/commands/"):
            self._respond_to_command()
            return
        method = url.path.rsplit("/", 1)[-1]
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if body:
            if self.headers.get("Content-Type", "").startswith("application/json"):
                args.update(json.loads(body))
            else:
                args.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        if self.headers.get("Authorization") != "Bearer xoxb-test-token":
            self._reply(200, {"ok": False, "error": "invalid_auth"})
            return
        state = self.state
        with state.lock:
            state.calls.append(Call(method, _decode(args), time.monotonic()))
            limited = state.rate_limited.get(method, 0)
            if limited:
                state.rate_limited[method] = limited - 1
        if limited:
            self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            return
        with state.lock:
            result = _handle(state, method, args)
        self._reply(200, result)

    def _respond_to_command(self) -> None:
        """A message sent to a command's `response_url` (JSON, no token: the URL is the
        credential), recorded as a call to "response_url"."""
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.state.lock:
            self.state.calls.append(Call("response_url", body, time.monotonic()))
        data = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve


class SlackStandIn:
    def __init__(self) -> None:
        self.state = SlackState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    @property
    def response_url(self) -> str:
        """Where a slash command's answers go (Slack gives one per command)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/commands/{TEAM}/1/abc"

    def __enter__(self) -> SlackStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# Requests as Slack sends them ---------------------------------------------------------------


def signed_headers(
    secret: str, body: str, timestamp: int | None = None, content_type: str = "application/json"
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def event_body(event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0KNOWHERE",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
    )


def command_body(
    text: str,
    user: str,
    channel: str,
    command: str = "/ask",
    response_url: str = "https://hooks.slack.invalid/commands/T0TEST/1/abc",
) -> str:
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": user,
            "command": command,
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A0KNOWHERE",
        }
    )


def overflow_body(action_id: str, value: str, user: str, channel: str, message_ts: str) -> str:
    """A block_actions payload for an option chosen in an overflow menu."""
    payload = json.loads(
        parse_qs(action_body(action_id, value, user, channel, message_ts))["payload"][0]
    )
    payload["actions"][0].update(
        type="overflow",
        block_id="sources",
        selected_option={"text": {"type": "plain_text", "text": "vote"}, "value": value},
    )
    del payload["actions"][0]["value"]
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(view: dict[str, Any], user: str, values: dict[str, Any]) -> str:
    """A modal submitted (`view_submission`): the view the bot opened, with its inputs'
    values as `{block_id: {action_id: value}}`."""
    state = {
        block: {action: {"type": "plain_text_input", "value": v} for action, v in inputs.items()}
        for block, inputs in values.items()
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0KNOWHERE",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.4",
        "view": {**view, "state": {"values": state}},
    }
    return urlencode({"payload": json.dumps(payload)})


def action_body(
    action_id: str,
    value: str,
    user: str,
    channel: str,
    message_ts: str,
    element: str = "button",
) -> str:
    """A click on an element (`button`, or `feedback_buttons` with the pressed one's value)."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0KNOWHERE",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "general"},
        "actions": [
            {
                "type": element,
                "action_id": action_id,
                "block_id": "feedback",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})
