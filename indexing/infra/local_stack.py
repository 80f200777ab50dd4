"""`knowhere services up|down|status`: local Weaviate and Redis kept running between commands."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .local_services import (
    RedisProcess,
    WeaviateProcess,
    find_redis_binary,
    find_weaviate_binary,
    local_api_key,
    redis_ready,
    start,
    stop_pid,
    wait_until_ready,
    weaviate_ready,
)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    managed: bool  # started by us (False: external, configured by URL)
    pid: int | None
    ready: bool


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@dataclass(frozen=True)
class LocalStack:
    """The services of one KNOWHERE_HOME: a Weaviate unless an external one is configured, a
    Redis when the Redis URL points at the local port. Pid files and logs live in `home`."""

    home: Path
    weaviate_url: str | None  # external Weaviate: nothing to manage
    weaviate_http_port: int
    weaviate_grpc_port: int
    weaviate_bin: Path | None
    redis_url: str
    local_redis_port: int

    @property
    def manages_weaviate(self) -> bool:
        return self.weaviate_url is None

    @property
    def manages_redis(self) -> bool:
        parsed = urlparse(self.redis_url)
        return parsed.hostname in LOOPBACK and parsed.port == self.local_redis_port

    def _pid_file(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"

    def _log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def weaviate(self) -> WeaviateProcess:
        # Cluster ports derived from the HTTP port, so instances of two homes can coexist.
        base = 17000 + (self.weaviate_http_port % 1000) * 4
        return WeaviateProcess.with_cluster_ports(
            find_weaviate_binary(self.home, self.weaviate_bin),
            self.home / "data" / "weaviate",
            self.weaviate_http_port,
            self.weaviate_grpc_port,
            base,
            local_api_key(self.home),
        )

    def redis(self) -> RedisProcess:
        return RedisProcess(
            find_redis_binary(), self.home / "data" / "redis", self.local_redis_port
        )

    def _up_one(self, name: str, command, env, check, url: str) -> ServiceStatus:
        pid_path = self._pid_file(name)
        pid = _read_pid(pid_path)
        if pid is None and not check():
            log = self._log_file(name)
            process = start(command, log, env=env, detach=True)
            pid_path.parent.mkdir(parents=True, exist_ok=True)
            pid_path.write_text(str(process.pid))
            pid = process.pid
            wait_until_ready(name, url, check, process, log)
            # Detached on purpose: it outlives this command and `services down` stops it by
            # pid. Marking it reaped keeps Popen from warning that it is "still running".
            process.returncode = 0
        return ServiceStatus(name, url, True, pid, check())

    def up(self) -> list[ServiceStatus]:
        """Start whatever local service is configured and not yet running; wait until ready."""
        statuses = []
        if self.manages_weaviate:
            weaviate = self.weaviate()
            weaviate.data_dir.mkdir(parents=True, exist_ok=True)
            statuses.append(
                self._up_one(
                    "weaviate", weaviate.command(), weaviate.env(), weaviate.is_ready, weaviate.url
                )
            )
        if self.manages_redis:
            redis = self.redis()
            redis.data_dir.mkdir(parents=True, exist_ok=True)
            statuses.append(self._up_one("redis", redis.command(), None, redis.is_ready, redis.url))
        return statuses

    def down(self) -> list[str]:
        """Stop the services we started; returns the names stopped."""
        stopped = []
        for name in ("weaviate", "redis"):
            pid_path = self._pid_file(name)
            pid = _read_pid(pid_path)
            if pid is not None and stop_pid(pid):
                stopped.append(name)
            pid_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        statuses = []
        if self.weaviate_url is None:
            endpoint = f"http://127.0.0.1:{self.weaviate_http_port}"
            pid = _read_pid(self._pid_file("weaviate"))
            ready = weaviate_ready(self.weaviate_http_port)
            statuses.append(ServiceStatus("weaviate", endpoint, True, pid, ready))
        else:
            statuses.append(ServiceStatus("weaviate", self.weaviate_url, False, None, False))
        if self.manages_redis:
            pid = _read_pid(self._pid_file("redis"))
            ready = redis_ready(self.local_redis_port)
            statuses.append(ServiceStatus("redis", self.redis_url, True, pid, ready))
        else:
            statuses.append(ServiceStatus("redis", self.redis_url, False, None, False))
        return statuses
