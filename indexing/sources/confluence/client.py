"""A small client for Confluence's REST API v1 (Cloud `/wiki/rest/api`, Data Center `/rest/api`).

Our own httpx client rather than atlassian-python-api: that one resolves `_links.next` against
the site root (dropping `/wiki` or a Data Center context path) and its 4.x space listing stops
after the first batch. Here `next` is joined to `_links.base` as Atlassian documents it, 429
and 503 are retried after `Retry-After` (tenacity), and 401/403 become an error that names the
space. Credentials travel in headers only, so URLs in messages never contain them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from pydantic import SecretStr
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ...errors import SourceError

RETRIED_STATUS = {429, 502, 503, 504}
Deployment = Literal["cloud", "datacenter"]


@dataclass(frozen=True)
class ConfluenceAuth:
    """Cloud: account e-mail + API token (basic auth). Data Center: a personal access token."""

    deployment: Deployment
    token: SecretStr
    email: str = ""

    def apply(self, client_kwargs: dict[str, Any]) -> None:
        secret = self.token.get_secret_value()
        if self.deployment == "cloud":
            client_kwargs["auth"] = httpx.BasicAuth(self.email, secret)
        else:
            client_kwargs["headers"]["Authorization"] = f"Bearer {secret}"


class Throttled(Exception):
    """The server asked us to slow down (429/503); `wait` is its Retry-After in seconds."""

    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.wait = wait


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        date = response.headers.get("Date")
        now = parsedate_to_datetime(date) if date else None
        return max(0.0, (moment - now).total_seconds()) if now else None


_backoff = wait_exponential(multiplier=0.5, max=60)


def _wait(state: RetryCallState) -> float:
    """Retry-After when the server gave one (capped), else exponential backoff."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, Throttled) and error.wait is not None:
        return min(error.wait, 300.0)
    return _backoff(state)


class ConfluenceClient:
    """GET JSON and bytes from one Confluence site, with pagination and polite retries."""

    def __init__(
        self,
        site: str,
        auth: ConfluenceAuth,
        timeout: float = 30.0,
        attempts: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.site = site.rstrip("/")
        self.api = f"{self.site}/rest/api"
        kwargs: dict[str, Any] = {
            "headers": {"Accept": "application/json"},
            "timeout": timeout,
            "follow_redirects": True,
        }
        auth.apply(kwargs)
        if transport is not None:
            kwargs["transport"] = transport
        self._http = httpx.Client(**kwargs)
        self._get = retry(
            retry=retry_if_exception_type((Throttled, httpx.TransportError)),
            wait=_wait,
            stop=stop_after_attempt(attempts),
            reraise=True,
        )(self._get_once)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConfluenceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.api}/{path.lstrip('/')}"

    def _get_once(self, url: str, params: dict[str, Any] | None, space: str) -> httpx.Response:
        response = self._http.get(url, params=params)
        if response.status_code in RETRIED_STATUS:
            raise Throttled(response.status_code, _retry_after(response))
        if response.status_code in (401, 403):
            what = f"space {space}" if space else "this site"
            raise SourceError(
                f"Confluence refused access to {what} at {self.site} "
                f"(HTTP {response.status_code}): check the account's e-mail and API token "
                "(Cloud) or personal access token (Data Center), and that it may read "
                f"{what}."
            )
        if response.status_code >= 400:
            raise SourceError(
                f"Confluence answered HTTP {response.status_code} for {response.url.path}"
                + (f" (space {space})" if space else "")
            )
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None, space: str = "") -> Any:
        try:
            response = self._get(self._url(path), params, space)
        except Throttled as throttled:
            raise SourceError(
                f"Confluence at {self.site} kept answering {throttled} "
                + (f"for space {space}" if space else "")
            ) from None
        except httpx.TransportError as err:
            raise SourceError(f"Confluence at {self.site} is not reachable: {err}") from None
        return response.json()

    def get_bytes(self, path: str, space: str = "") -> bytes:
        url = path if path.startswith("http") else f"{self.site}/{path.lstrip('/')}"
        try:
            return self._get(url, None, space).content
        except (Throttled, httpx.TransportError) as err:
            raise SourceError(f"downloading from Confluence at {self.site} failed: {err}") from None

    def paginate(self, path: str, params: dict[str, Any], space: str = "") -> Iterator[Any]:
        """Every result of a listing, following `_links.next` (relative to `_links.base`)."""
        page = self.get_json(path, params, space)
        while True:
            yield from page.get("results", [])
            links = page.get("_links", {})
            following = links.get("next")
            if not following:
                return
            base = str(links.get("base") or self.site).rstrip("/")
            page = self.get_json(f"{base}{following}", None, space)
