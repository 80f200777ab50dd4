"""Local stand-ins for Teams: the Bot Connector service and Bot Framework's OpenID metadata.

The connector records every activity the bot sends (`POST /v3/conversations/{id}/activities`
and replies to an activity), opens 1:1 chats (`POST /v3/conversations`: one member and the
tenant, or 400) and answers the members API (`GET …/members/{id}`,
`GET …/pagedmembers`) with the payload shapes of the Bot Framework REST reference. The
metadata server publishes a test RSA key, and `token()` signs Bot Framework-style tokens
with it (or with a key nobody trusts).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_ID = "28:knowhere-bot"
APP_ID = "00000000-0000-0000-0000-0000000a99e1"
ISSUER = "https://api.botframework.com"
KEY_ID = "knowhere-test-key"


@dataclass
class Sent:
    conversation: str
    reply_to: str | None
    activity: dict[str, Any]
    at: float
    id: str


@dataclass
class TeamsState:
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> account
    rosters: dict[str, list[str]] = field(default_factory=dict)  # conversation/team -> ids
    sent: list[Sent] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)  # POST /v3/conversations bodies
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Cleared: messages the bot sends are held (their POST does not return) until set again.
    messages_flow: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.messages_flow.set()

    def add_member(self, user_id: str, name: str, email: str) -> None:
        self.members[user_id] = {
            "id": user_id,
            "name": name,
            "aadObjectId": f"aad-{name.lower()}",
            "email": email,
            "userPrincipalName": email,
            "givenName": name,
            "tenantId": "tenant-1",
            "userRole": "user",
        }

    def of_type(self, kind: str, conversation: str | None = None) -> list[Sent]:
        return [
            s
            for s in list(self.sent)
            if s.activity.get("type") == kind
            and (conversation is None or s.conversation == conversation)
        ]


_ACTIVITY = re.compile(r"^/v3/conversations/([^/]+)/activities(?:/([^/]+))?$")
_MEMBER = re.compile(r"^/v3/conversations/([^/]+)/members/([^/]+)$")
_PAGED = re.compile(r"^/v3/conversations/([^/]+)/pagedmembers$")


class _Connector(BaseHTTPRequestHandler):
    state: TeamsState

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if url.path == "/v3/conversations":
            self._create(json.loads(self.rfile.read(length) or b"{}"))
            return
        match = _ACTIVITY.match(url.path)
        if not match:
            self._json(404, {"error": {"code": "NotFound"}})
            return
        activity = json.loads(self.rfile.read(length) or b"{}")
        if activity.get("type") == "message":
            self.state.messages_flow.wait(timeout=120)
        with self.state.lock:
            message_id = f"1{len(self.state.sent):012d}"
            self.state.sent.append(
                Sent(match.group(1), match.group(2), activity, time.monotonic(), message_id)
            )
        self._json(200, {"id": message_id})

    do_PUT = do_POST

    def _create(self, parameters: dict[str, Any]) -> None:
        """A 1:1 chat with one member (Teams returns the existing one when there is one)."""
        members = parameters.get("members") or []
        tenant = (parameters.get("channelData") or {}).get("tenant", {}).get("id")
        if parameters.get("isGroup") or len(members) != 1 or not tenant:
            self._json(400, {"error": {"code": "BadArgument"}})
            return
        with self.state.lock:
            self.state.created.append(parameters)
        self._json(201, {"id": f"a:1personal-{members[0]['id']}"})

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if match := _MEMBER.match(url.path):
            member = self.state.members.get(match.group(2))
            if member is None:
                self._json(404, {"error": {"code": "MemberNotFoundInConversation"}})
            else:
                self._json(200, member)
            return
        if match := _PAGED.match(url.path):
            roster = self.state.rosters.get(match.group(1), [])
            query = parse_qs(url.query)
            start = int(query.get("continuationToken", ["0"])[0])
            size = 2  # small pages: exercise the continuation token
            page = roster[start : start + size]
            token = str(start + size) if start + size < len(roster) else None
            result: dict[str, Any] = {"members": [self.state.members[m] for m in page]}
            if token:  # the last page has none
                result["continuationToken"] = token
            self._json(200, result)
            return
        self._json(404, {"error": {"code": "NotFound"}})


class _OpenId(BaseHTTPRequestHandler):
    jwks: dict[str, Any]
    base: str

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.endswith("/openidconfiguration"):
            payload: Any = {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.test/",
                "jwks_uri": f"{self.base}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        elif self.path.endswith("/keys"):
            payload = self.jwks
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TeamsStandIn:
    def __init__(self) -> None:
        self.state = TeamsState()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.untrusted_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=KEY_ID, use="sig", alg="RS256", endorsements=["msteams"])
        self.connector = _serve(type("Connector", (_Connector,), {"state": self.state}))
        self.openid = ThreadingHTTPServer(("127.0.0.1", 0), _OpenId)
        base = f"http://127.0.0.1:{self.openid.server_address[1]}"
        self.openid.RequestHandlerClass = type(
            "OpenId", (_OpenId,), {"jwks": {"keys": [public]}, "base": base}
        )
        threading.Thread(target=self.openid.serve_forever, daemon=True).start()
        self.metadata_url = f"{base}/v1/.well-known/openidconfiguration"

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.connector.server_address[1]}/"

    def token(
        self,
        audience: str = APP_ID,
        trusted: bool = True,
        lifetime: int = 600,
        issuer: str = ISSUER,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
            "serviceurl": self.service_url,
        }
        key = self.key if trusted else self.untrusted_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})

    def close(self) -> None:
        for server in (self.connector, self.openid):
            server.shutdown()
            server.server_close()


def activity(
    service_url: str,
    conversation: str,
    user: dict[str, Any],
    text: str = "",
    kind: str = "message",
    conversation_type: str = "personal",
    mention: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it to the bot."""
    body: dict[str, Any] = {
        "type": kind,
        "id": f"1{time.time_ns() % 10**12:012d}",
        "timestamp": "2026-11-26T12:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user["id"], "name": user["name"], "aadObjectId": user["aadObjectId"]},
        "conversation": {
            "id": conversation,
            "conversationType": conversation_type,
            "tenantId": "tenant-1",
        },
        "recipient": {"id": BOT_ID, "name": "Knowhere"},
        "channelData": {"tenant": {"id": "tenant-1"}},
        "locale": "en-US",
    }
    if kind == "message":
        body["text"] = f"<at>Knowhere</at> {text}" if mention else text
        body["textFormat"] = "plain"
        if mention:
            body["entities"] = [
                {
                    "type": "mention",
                    "mentioned": {"id": BOT_ID, "name": "Knowhere"},
                    "text": "<at>Knowhere</at>",
                }
            ]
    body.update(extra)
    return body
