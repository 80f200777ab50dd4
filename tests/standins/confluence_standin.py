"""A local stand-in for Confluence's REST API v1, from the payload shapes in Atlassian's docs.

Serves, under a context path (`/wiki` like Cloud, or any Data Center context path):
- GET /rest/api/space/{key}?expand=permissions
- GET /rest/api/content?spaceKey=&type=page&status=current&expand=&start=&limit=
- GET /rest/api/content/search?cql=&expand=&start=&limit=   (the CQL the connector sends:
  `space = "K" and type = page and lastmodified >= "yyyy-MM-dd HH:mm"` and `id in (…)`)
- GET /rest/api/content/{id}/restriction/byOperation/read
- GET /rest/api/content/{id}/child/attachment and the attachments' download links
- GET /rest/api/group, /rest/api/group/member?name= (Cloud), /rest/api/group/{name}/member
  (Data Center), and /rest/api/user/email?accountId= (Cloud; e-mails hidden by privacy)
Listings are paginated with `_links.next` relative to `_links.base` (which includes the
context path). Basic auth (Cloud e-mail + API token) or a bearer token (Data Center PAT) is
checked; 429s with `Retry-After` can be injected; CQL dates are read in the user's time zone.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

EMAIL = "knowhere-bot@example.com"
TOKEN = "conf-api-token-s3cr3t"


@dataclass
class Page:
    id: str
    space: str
    title: str
    body: str | None
    when: datetime
    version: int = 1
    parent: str | None = None
    labels: list[str] = field(default_factory=list)
    read_users: list[dict[str, str]] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    status: str = "current"  # current, archived, trashed
    author: str = "Ada Admin"
    attachments: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Space:
    key: str
    name: str
    readers_users: list[dict[str, str]] = field(default_factory=list)
    readers_groups: list[str] = field(default_factory=list)
    anonymous: bool = False
    forbidden: bool = False  # our account may not read it (403)


@dataclass
class ConfluenceState:
    spaces: dict[str, Space] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # "GET path?query"
    throttle: int = 0  # answer this many next requests with 429
    retry_after: str = "1"
    user_tz_hours: int = 10  # CQL dates are in the API user's time zone
    delay: float = 0.0  # seconds to wait before answering a search (a slow site)
    listing_delay: float = 0.0  # seconds to wait before answering a page listing (a big space)
    groups: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # name -> users
    hidden_emails: dict[str, str] = field(default_factory=dict)  # accountId -> e-mail
    email_api: bool = True  # our account may read hidden e-mails (an approved app)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_id: int = 1000

    def add_space(self, key: str, name: str, **kwargs: Any) -> Space:
        self.spaces[key] = Space(key, name, **kwargs)
        return self.spaces[key]

    def add_page(self, space: str, title: str, body: str, **kwargs: Any) -> Page:
        with self.lock:
            self._next_id += 1
            page_id = str(self._next_id)
        when = kwargs.pop("when", datetime(2024, 1, 1, tzinfo=UTC))
        page = Page(page_id, space, title, body, when, **kwargs)
        self.pages[page_id] = page
        return page

    def edit(self, page_id: str, body: str, when: datetime | None = None) -> None:
        page = self.pages[page_id]
        page.body = body
        page.version += 1
        page.when = when or datetime.now(UTC)

    def ancestors(self, page: Page) -> list[Page]:
        chain: list[Page] = []
        parent = page.parent
        while parent:
            chain.insert(0, self.pages[parent])
            parent = self.pages[parent].parent
        return chain

    def count(self, fragment: str) -> int:
        return sum(1 for r in self.requests if fragment in r)

    def count_since(self, start: int, fragment: str) -> int:
        """How many requests after the first `start` ones hold `fragment`."""
        return sum(1 for r in self.requests[start:] if fragment in r)


def _user(user: dict[str, str]) -> dict[str, Any]:
    return {"type": "known", **user}


def _results(items: list[Any]) -> dict[str, Any]:
    return {"results": items, "start": 0, "limit": 200, "size": len(items)}


class Handler(BaseHTTPRequestHandler):
    state: ConfluenceState
    context: str
    cloud: bool

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing --------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        ctype = "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if self.cloud:
            expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {TOKEN}"

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]  # type: ignore[misc]
        return f"http://{host}:{port}{self.context}"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.state.lock:
            self.state.requests.append(f"GET {url.path}?{url.query}")
            if self.state.throttle > 0:
                self.state.throttle -= 1
                self._send(
                    429, {"message": "Rate limited"}, {"Retry-After": self.state.retry_after}
                )
                return
        if not self._authorized():
            self._send(401, {"statusCode": 401, "message": "Unauthorized"})
            return
        path = url.path.removeprefix(self.context)
        routes = [
            (r"^/rest/api/space/([^/]+)$", self.space),
            (r"^/rest/api/content$", self.content),
            (r"^/rest/api/content/search$", self.search),
            (r"^/rest/api/content/(\d+)/restriction/byOperation/read$", self.restriction),
            (r"^/rest/api/content/(\d+)/child/attachment$", self.attachments),
            (r"^/download/attachments/(\d+)/(.+)$", self.download),
            (r"^/rest/api/group$", self.group_list),
            (r"^/rest/api/group/member$", self.group_members),
            (r"^/rest/api/group/([^/]+)/member$", self.group_members),
            (r"^/rest/api/user/email$", self.user_email),
        ]
        for pattern, handler in routes:
            match = re.match(pattern, path)
            if match:
                handler(query, *match.groups())
                return
        self._send(404, {"statusCode": 404, "message": f"No route {path}"})

    # -- payloads --------------------------------------------------------------------------

    def _space_json(self, space: Space, expand: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": abs(hash(space.key)) % 10_000,
            "key": space.key,
            "name": space.name,
            "type": "global",
            "_links": {"webui": f"/spaces/{space.key}", "base": self.base},
        }
        if "permissions" in expand:
            permissions = []
            for operation in ("read", "create"):
                subjects = {
                    "user": _results([_user(u) for u in space.readers_users]),
                    "group": _results([{"type": "group", "name": g} for g in space.readers_groups]),
                }
                permissions.append(
                    {
                        "operation": {"operation": operation, "targetType": "space"},
                        "subjects": subjects,
                        "anonymousAccess": False,
                        "unlicensedAccess": False,
                    }
                )
            if space.anonymous:
                permissions.append(
                    {
                        "operation": {"operation": "read", "targetType": "space"},
                        "anonymousAccess": True,
                        "unlicensedAccess": False,
                    }
                )
            data["permissions"] = permissions
        return data

    def _restrictions(self, page: Page) -> dict[str, Any]:
        return {
            "operation": "read",
            "restrictions": {
                "user": _results([_user(u) for u in page.read_users]),
                "group": _results([{"type": "group", "name": g} for g in page.read_groups]),
            },
        }

    def _page_json(self, page: Page, expand: set[str]) -> dict[str, Any]:
        slug = quote(page.title.replace(" ", "+"))
        data: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": page.status,
            "title": page.title,
            "_links": {
                "webui": f"/spaces/{page.space}/pages/{page.id}/{slug}",
                "self": f"{self.base}/rest/api/content/{page.id}",
            },
            "_expandable": {"body": "", "version": "", "ancestors": "", "space": ""},
        }
        author = {"accountId": f"acc-{abs(hash(page.author)) % 99999}", "displayName": page.author}
        if "version" in expand:
            data["version"] = {
                "by": _user(author),
                "when": page.when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "number": page.version,
                "minorEdit": False,
            }
        if "space" in expand:
            data["space"] = self._space_json(self.state.spaces[page.space], set())
        if "history" in expand:
            data["history"] = {"latest": True, "createdBy": _user(author)}
        if "ancestors" in expand:
            data["ancestors"] = [
                {"id": a.id, "type": "page", "status": "current", "title": a.title}
                for a in self.state.ancestors(page)
            ]
        if "body.storage" in expand and page.body is not None:
            data["body"] = {"storage": {"value": page.body, "representation": "storage"}}
        if "metadata.labels" in expand:
            data["metadata"] = {
                "labels": _results([{"prefix": "global", "name": n, "id": n} for n in page.labels])
            }
        if any(e.startswith("restrictions.read") for e in expand):
            data["restrictions"] = {"read": self._restrictions(page)}
        return data

    def _listing(self, path: str, query: dict[str, str], pages: list[Page]) -> None:
        start, limit = int(query.get("start", 0)), min(int(query.get("limit", 25)), 50)
        expand = set(query.get("expand", "").split(","))
        chunk = pages[start : start + limit]
        links: dict[str, Any] = {"base": self.base, "context": self.context}
        if start + limit < len(pages):
            following = {**query, "start": str(start + limit), "limit": str(limit)}
            links["next"] = f"/rest/api/{path}?{urlencode(following)}"
        self._send(
            200,
            {
                "results": [self._page_json(p, expand) for p in chunk],
                "start": start,
                "limit": limit,
                "size": len(chunk),
                "_links": links,
            },
        )

    def _readable(self, key: str) -> bool:
        space = self.state.spaces.get(key)
        if space is None:
            self._send(404, {"statusCode": 404, "message": f"No space with key : {key}"})
            return False
        if space.forbidden:
            self._send(403, {"statusCode": 403, "message": "Not permitted to view space"})
            return False
        return True

    # -- routes ----------------------------------------------------------------------------

    def space(self, query: dict[str, str], key: str) -> None:
        if self._readable(key):
            expand = set(query.get("expand", "").split(","))
            self._send(200, self._space_json(self.state.spaces[key], expand))

    def content(self, query: dict[str, str]) -> None:
        key = query.get("spaceKey", "")
        if self.state.listing_delay:
            time.sleep(self.state.listing_delay)
        if not self._readable(key):
            return
        status = query.get("status", "current")
        pages = [
            p
            for p in self.state.pages.values()
            if p.space == key and p.status == status and query.get("type", "page") == "page"
        ]
        self._listing("content", query, sorted(pages, key=lambda p: int(p.id)))

    def search(self, query: dict[str, str]) -> None:
        if self.state.delay:
            time.sleep(self.state.delay)
        cql = query.get("cql", "")
        ids = re.fullmatch(r"\s*id in \(([\d,\s]+)\)\s*", cql)
        if ids:
            wanted = {i.strip() for i in ids.group(1).split(",")}
            pages = [
                p for p in self.state.pages.values() if p.id in wanted and p.status == "current"
            ]
        else:
            match = re.fullmatch(
                r'\s*space = "(\w+)" and type = page and lastmodified >= "([\d-]+ [\d:]+)"\s*', cql
            )
            if not match:
                self._send(400, {"statusCode": 400, "message": f"Could not parse cql : {cql}"})
                return
            if not self._readable(match.group(1)):
                return
            local = datetime.strptime(match.group(2), "%Y-%m-%d %H:%M")
            since = local.replace(tzinfo=UTC) - timedelta(hours=self.state.user_tz_hours)
            pages = [
                p
                for p in self.state.pages.values()
                if p.space == match.group(1) and p.status == "current" and p.when >= since
            ]
        self._listing("content/search", query, sorted(pages, key=lambda p: int(p.id)))

    def restriction(self, query: dict[str, str], page_id: str) -> None:
        page = self.state.pages.get(page_id)
        if page is None:
            self._send(404, {"statusCode": 404, "message": "No content"})
            return
        data = self._restrictions(page)
        data["_links"] = {"base": self.base}
        self._send(200, data)

    def attachments(self, query: dict[str, str], page_id: str) -> None:
        page = self.state.pages[page_id]
        results = [
            {
                "id": f"att{page_id}{i}",
                "type": "attachment",
                "title": name,
                "extensions": {"fileSize": len(data)},
                "_links": {"download": f"/download/attachments/{page_id}/{quote(name)}"},
            }
            for i, (name, data) in enumerate(page.attachments.items())
        ]
        self._send(
            200,
            {
                "results": results,
                "start": 0,
                "limit": 50,
                "size": len(results),
                "_links": {"base": self.base},
            },
        )

    def _paged(self, path: str, query: dict[str, str], items: list[Any]) -> None:
        start, limit = int(query.get("start", 0)), min(int(query.get("limit", 25)), 50)
        links: dict[str, Any] = {"base": self.base, "context": self.context}
        if start + limit < len(items):
            following = {**query, "start": str(start + limit), "limit": str(limit)}
            links["next"] = f"/rest/api/{path}?{urlencode(following)}"
        chunk = items[start : start + limit]
        self._send(
            200,
            {"results": chunk, "start": start, "limit": limit, "size": len(chunk), "_links": links},
        )

    def group_list(self, query: dict[str, str]) -> None:
        groups = [{"type": "group", "name": n} for n in sorted(self.state.groups)]
        self._paged("group", query, groups)

    def group_members(self, query: dict[str, str], name: str | None = None) -> None:
        from urllib.parse import unquote

        group = unquote(name) if name else query.get("name", "")
        if group not in self.state.groups:
            self._send(404, {"statusCode": 404, "message": f"No group {group}"})
            return
        users = []
        for user in self.state.groups[group]:
            shown = dict(user)
            if self.cloud:
                shown.pop("username", None)
                shown.pop("userKey", None)
            else:
                shown.pop("accountId", None)
                shown.pop("email", None)  # Data Center shows no e-mails here
            users.append(_user(shown))
        path = "group/member" if name is None else f"group/{quote(group)}/member"
        self._paged(path, query, users)

    def user_email(self, query: dict[str, str]) -> None:
        if not self.state.email_api:
            self._send(403, {"statusCode": 403, "message": "Not allowed to read e-mails"})
            return
        account = query.get("accountId", "")
        email = self.state.hidden_emails.get(account)
        if email is None:
            self._send(404, {"statusCode": 404, "message": "No user"})
            return
        self._send(200, {"accountId": account, "email": email})

    def download(self, query: dict[str, str], page_id: str, name: str) -> None:
        from urllib.parse import unquote

        self._send(200, self.state.pages[page_id].attachments[unquote(name)])


class ConfluenceStandIn:
    """Run the stand-in on a free port: `with ConfluenceStandIn() as site: site.url`."""

    def __init__(self, context: str = "/wiki", cloud: bool = True) -> None:
        self.state = ConfluenceState()
        handler = type(
            "BoundHandler", (Handler,), {"state": self.state, "context": context, "cloud": cloud}
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{context}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ConfluenceStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# A generated space, for the benchmark and the fault tests ------------------------------------

TOPICS = [
    ("deploy", "Deploying {svc}", "Run the pipeline for {svc}; promote from staging after checks."),
    ("oncall", "On-call for {svc}", "Page the {svc} rotation; acknowledge within 5 minutes."),
    ("db", "Database of {svc}", "Migrations for {svc} run with the schema tool before release."),
    ("access", "Access to {svc}", "Request access to {svc} through the identity portal."),
    ("alerts", "Alerts of {svc}", "The {svc} error-rate alert fires above 2 % for 10 minutes."),
]
WORDS = (
    "service",
    "latency",
    "cache",
    "request",
    "queue",
    "worker",
    "retry",
    "timeout",
    "budget",
    "error",
    "metric",
    "dashboard",
    "release",
    "rollback",
    "config",
    "secret",
    "token",
    "region",
    "cluster",
    "node",
    "shard",
    "replica",
    "backup",
    "restore",
    "incident",
    "review",
    "owner",
    "runbook",
    "escalation",
    "capacity",
    "quota",
    "limit",
    "partition",
    "index",
)


def generated_body(rng: random.Random, svc: str, topic: int, paragraphs: int = 4) -> str:
    key, _, lead = TOPICS[topic]
    parts = [f"<h1>{key.title()} of {svc}</h1>", f"<p>{lead.format(svc=svc)}</p>"]
    for n in range(paragraphs):
        words = " ".join(rng.choice(WORDS) for _ in range(45))
        parts.append(f"<h2>Part {n + 1}</h2><p>{words}.</p>")
    parts.append(
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
        f"<ac:plain-text-body><![CDATA[{svc}ctl {key} --env prod]]></ac:plain-text-body>"
        "</ac:structured-macro>"
    )
    parts.append(
        '<ac:structured-macro ac:name="note"><ac:rich-text-body><p>'
        f"Ask in #team-{svc} when unsure.</p></ac:rich-text-body></ac:structured-macro>"
    )
    return "".join(parts)


def generate_space(state: ConfluenceState, key: str, pages: int, seed: int = 7) -> list[Page]:
    """A space of `pages` pages under a few parents, with realistic bodies and macros."""
    rng = random.Random(seed)
    state.add_space(key, f"Generated {key}", readers_groups=["staff"])
    made: list[Page] = []
    roots = [state.add_page(key, f"{key} home {i}", "<p>Index page.</p>") for i in range(5)]
    made.extend(roots)
    for number in range(pages - len(roots)):
        svc = f"svc{number:05d}"
        topic = number % len(TOPICS)
        title = TOPICS[topic][1].format(svc=svc)
        page = state.add_page(
            key,
            title,
            generated_body(rng, svc, topic),
            parent=roots[number % len(roots)].id,
            labels=[TOPICS[topic][0]],
            when=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=number),
        )
        made.append(page)
    return made
