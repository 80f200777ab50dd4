"""Start, check and stop a local Weaviate and Redis as plain processes (no Docker needed)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import ConfigError, ServiceUnavailable

# Weaviate refuses to start with a random cluster name across restarts once Raft state is
# persisted (weaviate #5491), so the node name is fixed.
CLUSTER_HOSTNAME = "knowhere-local"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of `count` consecutive loopback ports that are all free right now."""
    for _ in range(100):
        first = free_port()
        if first + count < 65536 and not any(port_open(first + i) for i in range(1, count)):
            return first
    raise OSError(f"no block of {count} free consecutive ports found")


def local_api_key(home: Path) -> str:
    """The local Weaviate's API key, generated once into `home` (readable by its owner only)."""
    path = home / "secrets" / "weaviate-api-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class WeaviateProcess:
    """How to run one local weaviate-server: binary, data directory and every port.

    Weaviate derives a peer's internal RPC port as its Raft port + 1 (and the memberlist data
    port as gossip + 1), so those pairs must be consecutive.
    """

    binary: Path
    data_dir: Path
    http_port: int
    grpc_port: int
    gossip_port: int
    data_port: int
    raft_port: int
    raft_rpc_port: int
    api_key: str  # every request must carry it: an open port gives nothing
    # One node of a cluster on loopback: its name, a member's gossip address to join, every
    # voter as name:raft-port, and how many voters to wait for.
    hostname: str = CLUSTER_HOSTNAME
    cluster_join: str = ""
    raft_join: str = ""
    raft_expect: int = 1

    @classmethod
    def with_cluster_ports(
        cls,
        binary: Path,
        data_dir: Path,
        http_port: int,
        grpc_port: int,
        base: int,
        api_key: str,
    ) -> WeaviateProcess:
        """Gossip, data, Raft and Raft RPC on `base` … `base + 3`."""
        return cls(
            binary, data_dir, http_port, grpc_port, base, base + 1, base + 2, base + 3, api_key
        )

    @classmethod
    def cluster(
        cls, binary: Path, data_dir: Path, nodes: int, api_key: str
    ) -> list[WeaviateProcess]:
        """`nodes` nodes of one cluster on loopback (fixed names knowhere-0…, free ports)."""
        blocks = [(free_port(), free_port(), free_port_block(4)) for _ in range(nodes)]
        voters = ",".join(f"knowhere-{i}:{base + 2}" for i, (_, _, base) in enumerate(blocks))
        first_gossip = blocks[0][2]
        return [
            cls(
                binary,
                data_dir / f"node-{i}",
                http,
                grpc,
                base,
                base + 1,
                base + 2,
                base + 3,
                api_key,
                hostname=f"knowhere-{i}",
                cluster_join=f"127.0.0.1:{first_gossip}" if i else "",
                raft_join=voters,
                raft_expect=nodes,
            )
            for i, (http, grpc, base) in enumerate(blocks)
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWHERE_")}
        env.update(
            {
                "PERSISTENCE_DATA_PATH": str(self.data_dir.resolve()),
                # API-key authentication, not anonymous access: HTTP is bound to loopback, but
                # gRPC listens on every interface.
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
                "AUTHENTICATION_APIKEY_ENABLED": "true",
                "AUTHENTICATION_APIKEY_ALLOWED_KEYS": self.api_key,
                "AUTHENTICATION_APIKEY_USERS": "knowhere",
                "AUTHORIZATION_ADMINLIST_ENABLED": "false",
                "DEFAULT_VECTORIZER_MODULE": "none",
                "ENABLE_MODULES": "",
                "API_BASED_MODULES_DISABLED": "true",
                "DISABLE_TELEMETRY": "true",
                "CLUSTER_HOSTNAME": self.hostname,
                "CLUSTER_IN_LOCALHOST": "true",
                "CLUSTER_BIND_ADDR": "127.0.0.1",
                "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
                "CLUSTER_GOSSIP_BIND_PORT": str(self.gossip_port),
                "CLUSTER_DATA_BIND_PORT": str(self.data_port),
                "RAFT_PORT": str(self.raft_port),
                "RAFT_INTERNAL_RPC_PORT": str(self.raft_rpc_port),
                # One node: RAFT_JOIN is left to its default (this node's internal RPC port).
                "RAFT_BOOTSTRAP_EXPECT": str(self.raft_expect),
                "GRPC_PORT": str(self.grpc_port),
                "GO_PROFILING_DISABLE": "true",  # else pprof listens on :6060, all interfaces
                "QUERY_DEFAULTS_LIMIT": "25",
                "LOG_LEVEL": "warning",
                "GOMEMLIMIT": "4GiB",
            }
        )
        if self.cluster_join:
            env["CLUSTER_JOIN"] = self.cluster_join
        if self.raft_join:
            env["RAFT_JOIN"] = self.raft_join
        return env

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.http_port),
            "--scheme",
            "http",
        ]

    def is_ready(self) -> bool:
        return weaviate_ready(self.http_port)


@dataclass(frozen=True)
class RedisProcess:
    """How to run one local redis-server on loopback."""

    binary: Path
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ]

    def is_ready(self) -> bool:
        return redis_ready(self.port)


def weaviate_ready(http_port: int) -> bool:
    """Whether a Weaviate on this loopback port answers its readiness probe."""
    try:
        response = httpx.get(f"http://127.0.0.1:{http_port}/v1/.well-known/ready", timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def weaviate_raft_leader(http_port: int, api_key: str) -> str:
    """The name of the node leading a local cluster's Raft (its schema and aliases) now."""
    response = httpx.get(
        f"http://127.0.0.1:{http_port}/v1/cluster/statistics",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10.0,
    )
    return str(response.json()["statistics"][0]["leaderId"])


def redis_ready(port: int) -> bool:
    """Whether a Redis on this loopback port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def find_redis_binary() -> Path:
    found = shutil.which("redis-server")
    if not found:
        raise ConfigError(
            "redis-server is not installed. Install it (apt-get install redis-server) or point "
            "KNOWHERE_REDIS_URL at an existing Redis."
        )
    return Path(found)


def find_weaviate_binary(home: Path, explicit: Path | None = None) -> Path:
    """`explicit` (KNOWHERE_WEAVIATE_BIN), else the one deploy/weaviate/install.sh built."""
    candidate = explicit or home / "bin" / "weaviate-server"
    if not candidate.exists():
        raise ConfigError(
            f"weaviate-server not found at {candidate}. Build the pinned version with "
            "deploy/weaviate/install.sh, set KNOWHERE_WEAVIATE_BIN, or use an external server "
            "with KNOWHERE_WEAVIATE_URL."
        )
    return candidate


def start(
    command: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    detach: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a service process writing to `log_path`; `detach` lets it outlive the caller."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=detach,
        )


def wait_until_ready(
    name: str,
    url: str,
    check,
    process: subprocess.Popen[bytes] | None,
    log_path: Path,
    timeout: float = 120.0,
) -> None:
    """Poll `check()` until true; fail early if the process exits, naming its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise ServiceUnavailable(
                name,
                url,
                f"The process exited with code {process.returncode}; log {log_path}:\n{tail}",
            )
        time.sleep(0.25)
    raise ServiceUnavailable(name, url, f"Not ready after {timeout:.0f}s; see {log_path}.")


def stop_pid(pid: int, timeout: float = 30.0) -> bool:
    """SIGTERM, wait, then SIGKILL. Returns False if the process was already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        _reap(pid)
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
