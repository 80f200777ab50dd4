"""One way to connect to Redis: a client that has answered, or an error naming the URL."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import redis

from ..errors import ServiceUnavailable


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to show in messages and logs."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = f"{parsed.username or ''}:***@{parsed.hostname}"
        if parsed.port:
            netloc += f":{parsed.port}"
        return urlunparse(parsed._replace(netloc=netloc))
    return url


def connect_redis(url: str) -> redis.Redis:
    """A Redis client that has answered PING; a clear error names the URL if not."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
    try:
        client.ping()
    except redis.RedisError as err:
        raise ServiceUnavailable(
            "Redis",
            redact_url(url),
            "Start the local one with `knowhere services up` or set KNOWHERE_REDIS_URL.",
        ) from err
    return client
