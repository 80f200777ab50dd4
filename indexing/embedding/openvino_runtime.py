"""A sentence-transformers model run by OpenVINO on the CPU.

PyTorch's eager CPU kernels spend most of a bf16 forward outside the matrix products
(softmax, GELU, the attention's scaling and masks, each a pass over memory); OpenVINO fuses
them, so the same model runs at a much larger share of the machine's matmul peak, in bf16
where the CPU has it (AMX, AVX512-BF16) and in fp32 elsewhere. The whole model (transformer,
pooling, normalisation) is converted once from its PyTorch weights with OpenVINO's own
converter and kept as OpenVINO IR beside the other models, keyed by the model's version.

Precision `auto` is measured, not guessed from CPU flags: the first time a model version
runs on a machine, it is compiled in both fp32 and bf16 and timed on a few probe texts. bf16
is chosen when it is faster and every probe vector stays within cosine 0.99 of fp32. The
choice is kept beside the conversion, per machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import torch

from .precision import cpu_flags

log = logging.getLogger(__name__)

IR_FILE = "model.xml"
KEPT = 8  # conversions kept in a cache folder (the most recently used ones)
MIN_COSINE = 0.99  # bf16 vectors must stay this close to fp32 ones to be chosen
HINTS = {"fp32": "f32", "bf16": "bf16"}
_PARAGRAPH = (
    "Expense reports over 500 EUR need the approval of a manager before they are booked; "
    "receipts are scanned and attached, and travel is reimbursed at the published rates. "
)
PROBE = [
    "How do I reset my VPN password?",
    "vacation days",
    "Who approves a purchase order above the department's budget?",
    "error E4242 when the build agent uploads artifacts",
    _PARAGRAPH * 2,
    _PARAGRAPH * 5,
    _PARAGRAPH * 9,
    "The on-call engineer answers pages within 15 minutes, day and night. " * 3,
]


INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what encoder tokenizers make


class _Forward(torch.nn.Module):
    """The sentence-transformers model as a function of its token tensors."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        features = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            features["token_type_ids"] = token_type_ids
        return self.model(features)["sentence_embedding"]


def _tensors(model: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    """What the model's tokenizer makes of `texts` (truncated to its window), tensors only."""
    features = model.preprocess(texts)
    unknown = [k for k, v in features.items() if torch.is_tensor(v) and k not in INPUTS]
    if unknown:
        raise ValueError(f"the tokenizer makes inputs OpenVINO is not given: {unknown}")
    return {name: features[name] for name in INPUTS if name in features}


def _convert(model: Any, target: Path) -> None:
    """Write the model as OpenVINO IR into `target` (atomically: several processes may race)."""
    example = _tensors(model, ["an example sentence", "and another, somewhat longer, one"])
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as fixed
        converted = ov.convert_model(
            _Forward(model),
            example_input=example,
            input=[(name, [-1, -1], ov.Type.i64) for name in example],
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        ov.save_model(converted, staging / IR_FILE, compress_to_fp16=False)
        try:
            os.rename(staging, target)
        except OSError:  # another process got there first: its copy is the same model
            if not (target / IR_FILE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prune(folder: Path, keep: int) -> None:
    """Remove all but the `keep` most recently used conversions (fine-tuning makes new
    model versions; the old ones' conversions would pile up)."""
    entries = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in entries[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


def _machine() -> str:
    """This CPU and runtime, as a short key (a cache folder may be shared between hosts)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    fingerprint = f"{model}|{' '.join(sorted(cpu_flags()))}|{ov.__version__}"
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:12]


def _compile(cache: Path, precision: str) -> Any:
    return ov.Core().compile_model(
        str(cache / IR_FILE),
        "CPU",
        {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY"},
    )


class OpenVinoModel:
    """A compiled model that embeds lists of texts (normalised float32 vectors).
    `precision`: fp32, bf16, or auto (measured once per model version and machine)."""

    def __init__(self, model: Any, cache: Path, precision: str) -> None:
        self.model = model  # the sentence-transformers model: its tokenizer and window
        if (cache / IR_FILE).exists():
            os.utime(cache)  # used: kept by the pruning below
        else:
            log.info("converting %s for OpenVINO into %s", cache.name, cache)
            _convert(model, cache)
            _prune(cache.parent, KEPT)
        self._requests = threading.local()  # an infer request is not shared across threads
        if precision == "auto":
            precision = self._measured(cache)
        self.precision = precision
        self._use(_compile(cache, precision))

    def _use(self, compiled: Any) -> None:
        self.compiled = compiled
        self.names = [port.get_any_name() for port in compiled.inputs]
        self._requests = threading.local()

    def _measured(self, cache: Path) -> str:
        """The faster precision that keeps the vectors (kept per machine beside the model)."""
        record = cache / f"precision-{_machine()}.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            chosen = json.loads(record.read_text())["precision"]
            if chosen in HINTS:
                return str(chosen)
        timings, vectors = {}, {}
        for precision in HINTS:
            self._use(_compile(cache, precision))
            self.embed(PROBE, len(PROBE))  # the first run sets up the kernels
            started = time.perf_counter()
            for _ in range(2):
                vectors[precision] = self.embed(PROBE, len(PROBE))
            timings[precision] = (time.perf_counter() - started) / 2
        cosine = float(np.min(np.sum(vectors["fp32"] * vectors["bf16"], axis=1)))
        chosen = "bf16" if cosine >= MIN_COSINE and timings["bf16"] < timings["fp32"] else "fp32"
        staged = record.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(
            json.dumps({"precision": chosen, "seconds": timings, "min_cosine": cosine})
        )
        os.replace(staged, record)
        log.info(
            "%s: %s chosen (fp32 %.3f s, bf16 %.3f s, cosine %.4f)",
            cache.name,
            chosen,
            timings["fp32"],
            timings["bf16"],
            cosine,
        )
        return chosen

    def _request(self) -> Any:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        return request

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Texts in batches of similar length (less padding), returned in their order."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: np.ndarray | None = None
        request = self._request()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            features = _tensors(self.model, [texts[i] for i in batch])
            request.infer({name: features[name].numpy() for name in self.names})
            out = np.array(request.get_output_tensor(0).data, dtype=np.float32)
            if vectors is None:
                vectors = np.empty((len(texts), out.shape[1]), dtype=np.float32)
            vectors[batch] = out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)
        assert vectors is not None
        return vectors
