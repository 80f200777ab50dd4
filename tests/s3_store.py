"""A real S3-compatible server for the tests: SeaweedFS (`weed server -s3`, Apache-2.0), built
from its Go module by deploy/seaweedfs/install.sh, on free loopback ports, with one identity."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from indexing.errors import ConfigError
from indexing.infra.local_services import free_port

ACCESS_KEY = "knowhere-test"
SECRET_KEY = "knowhere-test-secret-key"  # noqa: S105 - a throwaway server's identity


def find_weed_binary(home: Path) -> Path:
    """$KNOWHERE_WEED_BIN, else the one deploy/seaweedfs/install.sh built."""
    explicit = os.environ.get("KNOWHERE_WEED_BIN")
    candidate = Path(explicit) if explicit else home / "bin" / "weed"
    if not candidate.exists():
        raise ConfigError(f"SeaweedFS not found at {candidate}: run deploy/seaweedfs/install.sh")
    return candidate


@dataclass(frozen=True)
class SeaweedProcess:
    """One `weed server` with master, volume, filer and S3 gateway, every port its own."""

    binary: Path
    data_dir: Path
    ports: tuple[int, ...]  # master, volume, filer, s3 (each with its gRPC port)

    @classmethod
    def on_free_ports(cls, binary: Path, data_dir: Path) -> SeaweedProcess:
        return cls(binary, data_dir, tuple(free_port() for _ in range(8)))

    @property
    def url(self) -> str:  # the S3 endpoint
        return f"http://127.0.0.1:{self.ports[6]}"

    def command(self) -> list[str]:
        config = self.data_dir / "s3.json"
        identity = {
            "name": "knowhere",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        store = self.data_dir / "store"
        store.mkdir(exist_ok=True)
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = self.ports
        return [
            str(self.binary),
            "server",
            f"-dir={store}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=8",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            f"-s3.config={config}",
        ]

    def is_ready(self) -> bool:
        """The S3 gateway answers (an anonymous request is refused: that is an answer)."""
        try:
            return httpx.get(self.url, timeout=1.0).status_code in (200, 403)
        except httpx.HTTPError:
            return False
