"""Debian documentation packages, pinned by version and sha256, fetched once into a cache.

A benchmark is only reproducible if its source bytes are: each package is named by its exact
version and the sha256 Debian's archive lists for it (`apt-cache show PACKAGE=VERSION`). A
download whose digest differs is refused, never used. Debian removes superseded versions
from deb.debian.org at point releases; when a pin 404s, pick the archive's current version,
put its sha256 here, rebuild, and re-run the baselines (the numbers will move).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx
from debian.debfile import DebFile

ARCHIVE = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    pool_path: str  # under the archive root, as `Filename:` in apt-cache show
    sha256: str

    @property
    def url(self) -> str:
        return f"{ARCHIVE}/{self.pool_path}"

    @property
    def file_name(self) -> str:
        return Path(self.pool_path).name


GIT_DOC = DebianPackage(
    "git-doc",
    "1:2.39.5-0+deb12u3",
    "pool/main/g/git/git-doc_2.39.5-0+deb12u3_all.deb",
    "3c89668a11053a6bafade3de1f611f4613db31e082af63f43d8c5b69ad8795ec",
)
PYTHON_DOC = DebianPackage(
    "python3.11-doc",
    "3.11.2-6+deb12u8",
    "pool/main/p/python3.11/python3.11-doc_3.11.2-6+deb12u8_all.deb",
    "50eb63e7f636c4281e9ce1b8f10386f1def42159eddce34fc1f41c46261df71b",
)


class PackageError(RuntimeError):
    pass


def fetch(package: DebianPackage, cache: Path) -> Path:
    """The package's .deb in `cache`, downloaded and checked against its pinned sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / package.file_name
    if path.exists() and _sha256(path.read_bytes()) == package.sha256:
        return path
    response = httpx.get(package.url, timeout=120, follow_redirects=True)
    if response.status_code != 200:
        raise PackageError(
            f"{package.name} {package.version}: {package.url} answered {response.status_code}"
            " (superseded? pin the archive's current version and its sha256)"
        )
    digest = _sha256(response.content)
    if digest != package.sha256:
        raise PackageError(
            f"{package.name} {package.version}: sha256 {digest} is not the pinned {package.sha256}"
        )
    partial = path.with_suffix(".part")
    partial.write_bytes(response.content)
    partial.replace(path)
    return path


def read_members(deb: Path, prefix: str) -> dict[str, bytes]:
    """Files under `prefix` in the package's data archive: path (without prefix) -> bytes."""
    members = {}
    with DebFile(str(deb)) as package:
        archive = package.data.tgz()
        for member in archive.getmembers():
            name = member.name.removeprefix("./")
            if member.isfile() and name.startswith(prefix):
                handle = archive.extractfile(member)
                if handle is not None:
                    members[name.removeprefix(prefix)] = handle.read()
    return members


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
