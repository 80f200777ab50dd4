"""A model trained on one host is loaded by every other host from the model store, and only
if the archive is exactly the one the registry recorded.

The store is a folder (the default) or an S3 bucket on a real S3-compatible server
(SeaweedFS); each "host" has a cache of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.errors import StoreError
from indexing.learning.model_store import Artifact, ModelStore


def a_model(folder: Path) -> Path:
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 384}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".knowhere")
    }


@pytest.fixture(params=["folder", "s3"])
def store_url(request, tmp_path) -> tuple[str, dict]:
    if request.param == "folder":
        return str(tmp_path / "shared-mount" / "models"), {}
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_credentials")
    return "s3://models/knowhere", {"client_kwargs": {"endpoint_url": server.url}}


def test_a_published_model_loads_on_another_host_exactly_as_trained(store_url, tmp_path):
    url, options = store_url
    trained = a_model(tmp_path / "trained-on-host-a")
    host_a = ModelStore(url, tmp_path / "host-a-cache", options)
    host_b = ModelStore(url, tmp_path / "host-b-cache", options)

    artifact = host_a.publish(trained, "minilm-ft-1")
    again = host_a.publish(trained, "minilm-ft-1")
    loaded = host_b.fetch(artifact)

    assert again == artifact  # deterministic archives: same model, same hash, same place
    assert artifact.url.startswith("s3://models/knowhere/" if url.startswith("s3") else "file:///")
    assert files_of(loaded) == files_of(trained)
    assert loaded.parent == tmp_path / "host-b-cache"
    assert host_b.fetch(artifact) == loaded  # from the cache now


def test_an_archive_that_is_not_the_one_recorded_is_refused_naming_it(store_url, tmp_path):
    url, options = store_url
    host_a = ModelStore(url, tmp_path / "host-a-cache", options)
    host_b = ModelStore(url, tmp_path / "host-b-cache", options)
    artifact = host_a.publish(a_model(tmp_path / "trained"), "minilm-ft-2")
    retrained = a_model(tmp_path / "other")
    (retrained / "model.safetensors").write_bytes(b"other weights")
    other = host_a.publish(retrained, "minilm-ft-3")
    swapped = Artifact(other.url, artifact.sha256)  # the registry's hash, another archive

    with pytest.raises(StoreError, match=f"{other.url} has sha256 .* registry recorded"):
        host_b.fetch(swapped)
    with pytest.raises(StoreError, match="not in the model store"):
        host_b.fetch(Artifact(artifact.url + ".gone", artifact.sha256))
    assert not (tmp_path / "host-b-cache" / artifact.sha256).exists()
