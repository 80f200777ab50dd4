"""A real OpenAI-compatible chat server for tests: llama.cpp (xllamacpp) serving SmolLM2.

python tests/llm_server.py PORT
"""

from __future__ import annotations

import signal
import sys

import xllamacpp

from indexing.answers.llamacpp import bundled_gguf


def main() -> None:
    params = xllamacpp.CommonParams()
    params.model.path = bundled_gguf()
    params.n_ctx = 2048
    params.port = int(sys.argv[1])
    params.verbosity = -1
    params.api_keys = ["sk-test-secret"]  # clients must send this bearer token
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    main()
