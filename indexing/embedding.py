"""Sentence-transformers embeddings as a LlamaIndex embedding model, fast on CPU.

Precision: `fp32` is the reference. `bf16` runs the transformer under bfloat16 autocast,
which pays off on CPUs with AMX or AVX512-BF16 and on GPUs; on an AVX2-only CPU bfloat16 is
emulated and about 8x slower than fp32, so `auto` picks bf16 only where the hardware has it.
(PyTorch's dynamic int8 quantization was measured too and dropped: cosine to fp32 fell to
~0.5 for mpnet.) Every path returns float32, L2-normalized vectors.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import torch
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

Precision = Literal["auto", "fp32", "bf16"]


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def choose_precision(requested: Precision, device: str) -> Literal["fp32", "bf16"]:
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bf16"
    flags = cpu_flags()
    if "amx_bf16" in flags or "avx512_bf16" in flags:
        return "bf16"
    return "fp32"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceEmbedder(BaseEmbedding):
    """A sentence-transformers model behind LlamaIndex's `BaseEmbedding` interface."""

    precision: str = "fp32"
    device: str = "cpu"
    _model: Any = PrivateAttr()
    _texts_embedded: int = PrivateAttr(default=0)
    _version: str = PrivateAttr(default="")
    # The answer service embeds a question for retrieval and again to pick sentences.
    _recent_queries: OrderedDict[str, list[float]] = PrivateAttr(default_factory=OrderedDict)

    def __init__(
        self,
        model_name: str,
        model_path: str,
        precision: Precision = "auto",
        batch_size: int = 32,
        device: str | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        device = device or default_device()
        chosen = choose_precision(precision, device)
        super().__init__(  # type: ignore[call-arg]
            model_name=model_name, embed_batch_size=batch_size, precision=chosen, device=device
        )
        model = SentenceTransformer(model_path, device=device)
        model.eval()
        self._model = model
        self._version = _model_version(model_name, model_path)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceEmbedder"

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    @property
    def model(self) -> Any:
        """The sentence-transformers model (for training and hard-negative mining)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    @property
    def texts_embedded(self) -> int:
        """How many texts this instance has embedded (tests and benchmarks count work)."""
        return self._texts_embedded

    @property
    def version(self) -> str:
        """Model name plus a short hash of its weights: what produced a vector."""
        return self._version

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with torch.inference_mode(), self._autocast():
            vectors = self._model.encode(
                texts,
                batch_size=self.embed_batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        self._texts_embedded += len(texts)
        return vectors.float().cpu().tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        recent = self._recent_queries
        vector = recent.get(query)
        if vector is None:
            vector = self.embed([query])[0]
            recent[query] = vector
            if len(recent) > RECENT_QUERIES:
                recent.popitem(last=False)
        return vector

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


RECENT_QUERIES = 256


def _model_version(model_name: str, model_path: str) -> str:
    weights = Path(model_path) / "model.safetensors"
    if not weights.exists():
        return model_name
    stat = weights.stat()
    # Size + mtime + head of the file: cheap, and distinct for a fine-tuned copy.
    digest = hashlib.sha256(f"{stat.st_size}".encode())
    with weights.open("rb") as handle:
        digest.update(handle.read(1 << 20))
    return f"{Path(model_name).name}@{digest.hexdigest()[:12]}"
