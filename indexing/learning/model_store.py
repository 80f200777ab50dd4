"""The model store: fine-tuned models as archives any host can load, checked by their hash.

A model trained on one host is published as one tar archive to the store: a folder (the
default, for one host or a shared mount) or any fsspec URL (`s3://bucket/prefix` on AWS S3
or an S3-compatible server). The registry keeps the archive's URL and sha256. A host that
needs a version downloads the archive into its own cache, checks the hash while it reads,
and unpacks it; the cached copy is used while its hash marker says it is that archive.

Archives are deterministic (sorted members, no timestamps or owners), so publishing the same
model twice gives the same hash and the same name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from ..errors import StoreError

CHUNK = 8 * 1024 * 1024
MARKER = ".knowhere-sha256"  # in an unpacked copy: the hash of the archive it came from


@dataclass(frozen=True)
class Artifact:
    """A published model: where its archive is, and the archive's sha256."""

    url: str
    sha256: str


def _reset(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.mtime = 0
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _pack(model_dir: Path, archive: Path) -> str:
    """Write `model_dir` as a deterministic tar to `archive`; returns its sha256."""
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), filter=_reset)
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ModelStore:
    """Publish models to `url` and fetch them into `cache_dir` (`options`: fsspec's storage
    options, e.g. an S3 endpoint)."""

    def __init__(self, url: str, cache_dir: Path, options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.cache_dir = cache_dir
        self.options = options or {}
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.options)

    def publish(self, model_dir: Path, name: str) -> Artifact:
        """Upload `model_dir` as `name`'s archive; returns where it is and its hash."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix="publish-") as scratch:
            archive = Path(scratch) / "model.tar"
            sha256 = _pack(model_dir, archive)
            remote = f"{self.root}/{name}-{sha256[:16]}.tar"
            try:
                self.fs.makedirs(self.root, exist_ok=True)
                self.fs.put_file(str(archive), remote)
            except Exception as err:  # noqa: BLE001 - every fsspec backend raises its own
                raise StoreError(f"publishing model {name} to {self.url} failed: {err}") from err
        return Artifact(self.fs.unstrip_protocol(remote), sha256)

    def fetch(self, artifact: Artifact, into: Path | None = None) -> Path:
        """The unpacked model of `artifact`: in this host's cache (downloaded and checked
        first if the cache does not hold it), or always downloaded and checked `into` a
        folder of the caller's (to prove the store serves it, say)."""
        target = into or self.cache_dir / artifact.sha256
        if into is None and _holds(target, artifact.sha256):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="fetch-") as scratch:
            archive = Path(scratch) / "model.tar"
            digest = self._download(artifact.url, archive)
            if digest != artifact.sha256:
                raise StoreError(
                    f"model archive {artifact.url} has sha256 {digest}, but the registry "
                    f"recorded {artifact.sha256}: not loaded (re-publish or re-train it)"
                )
            unpacked = Path(scratch) / "model"
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
            (unpacked / MARKER).write_text(artifact.sha256)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(unpacked, target)
            except OSError:  # another process of this host unpacked it meanwhile
                if not _holds(target, artifact.sha256):
                    raise
        return target

    def remove(self, artifact: Artifact) -> None:
        """Delete the archive from the store (gone already is fine) and this host's copy."""
        try:
            fs, path = fsspec.core.url_to_fs(artifact.url, **self.options)
            if fs.exists(path):
                fs.rm(path)
        except Exception as err:  # noqa: BLE001 - every fsspec backend raises its own
            raise StoreError(f"removing model archive {artifact.url} failed: {err}") from err
        shutil.rmtree(self.cache_dir / artifact.sha256, ignore_errors=True)

    def _download(self, url: str, archive: Path) -> str:
        digest = hashlib.sha256()
        try:
            fs, path = fsspec.core.url_to_fs(url, **self.options)
            with fs.open(path, "rb") as source, archive.open("wb") as sink:
                while block := source.read(CHUNK):
                    digest.update(block)
                    sink.write(block)
        except FileNotFoundError as err:
            raise StoreError(f"model archive {url} is not in the model store") from err
        except Exception as err:  # noqa: BLE001 - every fsspec backend raises its own
            raise StoreError(f"reading model archive {url} failed: {err}") from err
        return digest.hexdigest()


def _holds(target: Path, sha256: str) -> bool:
    marker = target / MARKER
    return marker.is_file() and marker.read_text().strip() == sha256
