"""On the CPU the embedder runs in OpenVINO: the vectors PyTorch gives, a conversion made once
per model version, and a model OpenVINO cannot take still served (or refused clearly)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexing import ModelError, SentenceEmbedder
from indexing.embedding import models, openvino_runtime

MODEL = "all-MiniLM-L6-v2"
TEXTS = [
    "How do I reset my VPN password?",
    "VPN",
    "Expenses over 500 EUR need a manager's approval before they are booked. " * 40,  # > window
    "Vacation: employees have 28 days of paid leave per year.",
]


def embedder(folder, **options) -> SentenceEmbedder:
    path = models.resolve(MODEL, models_dir=models.Path("/nonexistent"))
    return SentenceEmbedder(MODEL, path, compiled_dir=str(folder), **options).warm_up()


def test_the_cpu_embedder_runs_in_openvino_and_matches_pytorch(tmp_path):
    fast = embedder(tmp_path, precision="fp32")
    reference = embedder(tmp_path, precision="fp32", backend="torch")
    assert (fast.backend, reference.backend) == ("openvino", "torch")

    got, expected = np.array(fast.embed(TEXTS)), np.array(reference.embed(TEXTS))
    # Same order as asked (batches are sorted by length inside), unit length, same vectors.
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert np.min(np.sum(got * expected, axis=1)) > 0.999
    assert fast.embed_query(TEXTS[0]).vector == pytest.approx(got[0].tolist(), abs=1e-5)
    assert fast.texts_embedded == len(TEXTS) + 1


def test_bf16_stays_within_the_precision_budget(tmp_path):
    fast = embedder(tmp_path, precision="bf16")
    reference = embedder(tmp_path, precision="fp32", backend="torch")
    cosine = np.sum(np.array(fast.embed(TEXTS)) * np.array(reference.embed(TEXTS)), axis=1)
    assert np.min(cosine) > 0.99


def test_auto_precision_is_measured_once_per_machine_and_kept(tmp_path, monkeypatch):
    first = embedder(tmp_path)  # precision "auto"
    (converted,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    (record,) = converted.glob("precision-*.json")
    measured = json.loads(record.read_text())
    assert first.precision == measured["precision"] in ("fp32", "bf16")
    assert set(measured["seconds"]) == {"fp32", "bf16"} and measured["min_cosine"] > 0.9

    # The kept choice is what the next process uses, without measuring again.
    record.write_text(json.dumps({**measured, "precision": "fp32"}))
    monkeypatch.setattr(openvino_runtime.OpenVinoModel, "embed", lambda *a: pytest.fail("probed"))
    assert embedder(tmp_path).precision == "fp32"


def test_a_model_version_is_converted_once_and_the_conversion_reused(tmp_path, monkeypatch):
    embedder(tmp_path)
    (converted,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert converted.name.startswith(f"{MODEL}_") and (converted / "model.xml").exists()

    def never(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(openvino_runtime, "_convert", never)
    again = embedder(tmp_path)  # another process, same version: reads the kept conversion
    assert again.backend == "openvino" and len(again.embed(["VPN"])[0]) == 384


def test_old_conversions_are_pruned_to_the_most_recent(tmp_path):
    for n in range(openvino_runtime.KEPT + 2):
        stale = tmp_path / f"old-model-{n}"
        stale.mkdir()
        (stale / "model.xml").write_text("<net/>")
    embedder(tmp_path)
    kept = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(kept) == openvino_runtime.KEPT
    assert any(p.name.startswith(f"{MODEL}_") for p in kept)


def test_a_model_openvino_cannot_take_runs_in_pytorch_unless_openvino_was_asked_for(
    tmp_path, monkeypatch, caplog
):
    def fails(model, target):
        raise RuntimeError("unsupported operation aten::frobnicate")

    monkeypatch.setattr(openvino_runtime, "_convert", fails)
    served = embedder(tmp_path)
    assert served.backend == "torch" and len(served.embed(["VPN"])[0]) == 384
    assert "aten::frobnicate" in caplog.text and "runs in PyTorch instead" in caplog.text

    with pytest.raises(ModelError, match=f"{MODEL}.*aten::frobnicate.*KNOWHERE_EMBED_BACKEND"):
        embedder(tmp_path, backend="openvino")
