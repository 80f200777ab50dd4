"""`knowhere services up|down|status`: local Weaviate and Redis kept running between commands."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .localservices import (
    RedisProcess,
    WeaviateProcess,
    find_redis_binary,
    find_weaviate_binary,
    redis_ready,
    start,
    stop_pid,
    wait_until_ready,
    weaviate_ready,
)
from .settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    managed: bool  # started by us (False: external, configured by URL)
    pid: int | None
    ready: bool


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return settings.home / "logs" / f"{name}.log"


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def manages_redis(settings: Settings) -> bool:
    parsed = urlparse(settings.redis_url)
    return parsed.hostname in LOOPBACK and parsed.port == settings.local_redis_port


def local_weaviate(settings: Settings) -> WeaviateProcess:
    # Cluster ports derived from the HTTP port, so instances of two homes can coexist.
    base = 17000 + (settings.weaviate_http_port % 1000) * 4
    return WeaviateProcess.with_cluster_ports(
        find_weaviate_binary(settings.home),
        settings.data_dir / "weaviate",
        settings.weaviate_http_port,
        settings.weaviate_grpc_port,
        base,
    )


def local_redis(settings: Settings) -> RedisProcess:
    return RedisProcess(find_redis_binary(), settings.data_dir / "redis", settings.local_redis_port)


def _up_one(settings: Settings, name: str, command, env, check, url: str) -> ServiceStatus:
    pid_path = _pid_file(settings, name)
    pid = _read_pid(pid_path)
    if pid is None and not check():
        log = _log_file(settings, name)
        process = start(command, log, env=env, detach=True)
        pid_path.parent.mkdir(parents=True, exist_ok=True)
        pid_path.write_text(str(process.pid))
        pid = process.pid
        wait_until_ready(name, url, check, process, log)
        # Detached on purpose: it outlives this command and `services down` stops it by pid.
        # Marking it reaped keeps Popen from warning that it is "still running".
        process.returncode = 0
    return ServiceStatus(name, url, True, pid, check())


def services_up(settings: Settings) -> list[ServiceStatus]:
    """Start whatever local service is configured and not yet running; wait until ready."""
    statuses = []
    if settings.weaviate_url is None:
        weaviate = local_weaviate(settings)
        weaviate.data_dir.mkdir(parents=True, exist_ok=True)
        statuses.append(
            _up_one(
                settings,
                "weaviate",
                weaviate.command(),
                weaviate.env(),
                weaviate.is_ready,
                weaviate.url,
            )
        )
    if manages_redis(settings):
        redis = local_redis(settings)
        redis.data_dir.mkdir(parents=True, exist_ok=True)
        statuses.append(
            _up_one(settings, "redis", redis.command(), None, redis.is_ready, redis.url)
        )
    return statuses


def services_down(settings: Settings) -> list[str]:
    """Stop the services we started; returns the names stopped."""
    stopped = []
    for name in ("weaviate", "redis"):
        pid_path = _pid_file(settings, name)
        pid = _read_pid(pid_path)
        if pid is not None and stop_pid(pid):
            stopped.append(name)
        pid_path.unlink(missing_ok=True)
    return stopped


def services_status(settings: Settings) -> list[ServiceStatus]:
    statuses = []
    if settings.weaviate_url is None:
        endpoint = settings.weaviate_endpoint()
        pid = _read_pid(_pid_file(settings, "weaviate"))
        ready = weaviate_ready(settings.weaviate_http_port)
        statuses.append(ServiceStatus("weaviate", endpoint, True, pid, ready))
    else:
        statuses.append(ServiceStatus("weaviate", settings.weaviate_url, False, None, False))
    if manages_redis(settings):
        pid = _read_pid(_pid_file(settings, "redis"))
        ready = redis_ready(settings.local_redis_port)
        statuses.append(ServiceStatus("redis", settings.redis_url, True, pid, ready))
    else:
        statuses.append(ServiceStatus("redis", settings.redis_url, False, None, False))
    return statuses
