"""Sentence-transformers embeddings as a LlamaIndex embedding model, fast on CPU.

On the CPU the model runs in OpenVINO (`openvino_runtime`), in bfloat16 where the hardware
has it; on a GPU in PyTorch under bfloat16 autocast (see `precision`). Every path returns
float32, L2-normalized vectors. Building an embedder is cheap: the model is loaded by an
explicit `warm_up()`, which the composition root calls once per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from ..errors import ModelError
from .precision import Backend, Precision, choose_backend, choose_precision, default_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedQuery:
    """A query and its vector, with the embedder version that made it (so a later step can
    reuse the vector only when it works in the same vector space)."""

    text: str
    vector: list[float]
    embedder: str


class SentenceEmbedder(BaseEmbedding):
    """A sentence-transformers model behind LlamaIndex's `BaseEmbedding` interface."""

    precision: str = "fp32"
    device: str = "cpu"
    backend: str = "torch"
    _model: Any = PrivateAttr(default=None)
    _openvino: Any = PrivateAttr(default=None)
    _compiled_dir: str | None = PrivateAttr(default=None)
    _backend_requested: str = PrivateAttr(default="auto")
    _precision_requested: str = PrivateAttr(default="auto")
    _path: str = PrivateAttr(default="")
    _texts_embedded: int = PrivateAttr(default=0)
    _version: str = PrivateAttr(default="")
    _loading: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        model_name: str,
        model_path: str,
        precision: Precision = "auto",
        batch_size: int = 32,
        device: str | None = None,
        backend: Backend = "auto",
        compiled_dir: str | None = None,
    ) -> None:
        """`compiled_dir`: where the OpenVINO conversion of each model version is kept (none:
        a temporary folder, converted again by every process)."""
        device = device or default_device()
        chosen = choose_precision(precision, device)
        super().__init__(  # type: ignore[call-arg]
            model_name=model_name,
            embed_batch_size=batch_size,
            precision=chosen,
            device=device,
            backend=choose_backend(backend, device),
        )
        self._path = model_path
        self._compiled_dir = compiled_dir
        self._backend_requested = backend
        self._precision_requested = precision
        self._version = _model_version(model_name, model_path)

    def warm_up(self) -> SentenceEmbedder:
        """Load the model (once; later calls return at once). Returns the embedder."""
        with self._loading:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                model = SentenceTransformer(self._path, device=self.device)
                model.eval()
                if self.backend == "openvino":
                    self._openvino = self._compile(model)
                self._model = model
        return self

    def _compile(self, model: Any) -> Any:
        from . import openvino_runtime

        release = openvino_runtime.ov.__version__.split("-")[0]
        # No "@": the logs' scrubber would read "name@hash-openvino-x.y" as an e-mail address.
        key = re.sub(r"[^\w.-]", "_", f"{self._version}-openvino-{release}")
        try:
            # `auto` is measured there (once per model version and machine), not guessed.
            requested = self._precision_requested
            if self._compiled_dir:
                compiled = openvino_runtime.OpenVinoModel(
                    model, Path(self._compiled_dir) / key, requested
                )
            else:
                with tempfile.TemporaryDirectory(prefix="knowhere-openvino-") as folder:
                    compiled = openvino_runtime.OpenVinoModel(model, Path(folder) / key, requested)
            self.precision = compiled.precision
            return compiled
        except Exception as err:
            problem = (
                f"embedder {self.model_name}: OpenVINO could not convert or compile it "
                f"({type(err).__name__}: {err})"
            )
            if self._backend_requested == "openvino":
                raise ModelError(f"{problem}; set KNOWHERE_EMBED_BACKEND=torch") from err
            log.warning("%s; it runs in PyTorch instead", problem)  # `auto`: still works
            self.backend = "torch"
            return None

    @property
    def path(self) -> str:
        """Where the model's files are (or its hub name)."""
        return self._path

    def _loaded(self) -> Any:
        if self._model is None:
            raise ModelError(f"embedder {self.model_name}: call warm_up() before using it")
        return self._model

    @classmethod
    def class_name(cls) -> str:
        return "SentenceEmbedder"

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self._loaded().max_seq_length)

    @property
    def model(self) -> Any:
        """The sentence-transformers model (for training and hard-negative mining)."""
        return self._loaded()

    @property
    def tokenizer(self) -> Any:
        return self._loaded().tokenizer

    @property
    def texts_embedded(self) -> int:
        """How many texts this instance has embedded (tests and benchmarks count work)."""
        return self._texts_embedded

    @property
    def version(self) -> str:
        """Model name plus a short hash of its weights: what produced a vector."""
        return self._version

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16" and self.backend == "torch":
            return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._openvino is not None:
            self._loaded()
            found = self._openvino.embed(texts, self.embed_batch_size)
            self._texts_embedded += len(texts)
            return found.tolist()  # type: ignore[no-any-return]
        with torch.inference_mode(), self._autocast():
            vectors = self._loaded().encode(
                texts,
                batch_size=self.embed_batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        self._texts_embedded += len(texts)
        return vectors.float().cpu().tolist()

    def embed_query(self, query: str) -> EmbeddedQuery:
        return EmbeddedQuery(query, self.get_query_embedding(query), self.version)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


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
