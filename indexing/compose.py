"""The composition root: the core objects built from the settings, and nothing else.

Only this module, `jobs` and the edges (the CLI, the bots, the workers) read `Settings`;
everything below them receives explicit values. Models are loaded here, once per process
and model (an explicit warm-up, bounded so a training worker does not keep every candidate).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import redis
import weaviate
from pydantic import SecretStr

from .access.directory import Directory, PeopleDirectory
from .access.groups import GroupDirectory
from .answers.extractive import ExtractiveGenerator
from .answers.generator import Generator
from .answers.llamacpp import LlamaCppGenerator, bundled_gguf
from .answers.log import AnswerLog
from .answers.openai_chat import ChatGenerator
from .answers.service import AnswerService
from .answers.verified import VerifiedAnswers, VerifiedLookup
from .embedding import models
from .embedding.embedder import SentenceEmbedder
from .errors import ConfigError
from .infra.database import schema_revision
from .infra.local_services import local_api_key
from .infra.local_stack import LocalStack
from .infra.redis import connect_redis
from .infra.schema import Revision
from .ingest.chunking import StructuredChunker, chunking_fingerprint
from .ingest.indexer import Indexer
from .insights import gaps
from .learning.finetune import TrainParams
from .learning.gate import Rule
from .learning.loop import LearningContext, LearningPolicy
from .learning.model_store import Artifact, ModelStore
from .learning.registry import EmbedderVersion, Registry
from .search.fusion_weight import AlphaChoices
from .search.retriever import Retriever
from .search.tuning import default_alpha, default_min_relevance, default_same_question
from .settings import Settings
from .sources.confluence.client import ConfluenceClient
from .sources.confluence.connector import ConfluenceConnector
from .sources.interfaces import Connector
from .sources.sources_file import SourceConfig, get_source
from .sources.tickets.connector import TicketConnector
from .sources.tickets.formats import READERS
from .sources.tickets.pairs import TicketPairs
from .sources.tickets.people import People
from .store.access_lists import AccessCatalog, AccessLists
from .store.alias import IndexAlias
from .store.chunk_store import ChunkStore
from .store.connection import WeaviateEndpoint, connect
from .store.hashes import DocHashStore, Recorded, SourceVersions, recorded_in
from .store.write_gate import WriteGate
from .sync.lock import SourceLock
from .sync.runs import SyncRuns
from .sync.steps import SyncContext

EMBEDDERS_KEPT = 4  # models kept loaded per process (serving, previous, a candidate or two)

# Services -----------------------------------------------------------------------------------


def weaviate_endpoint(settings: Settings) -> WeaviateEndpoint:
    """The configured Weaviate; the local one's key is the one generated into KNOWHERE_HOME."""
    key = settings.weaviate_api_key
    if key is None and settings.weaviate_url is None:
        key = SecretStr(local_api_key(settings.home))
    return WeaviateEndpoint(
        settings.weaviate_url,
        settings.weaviate_grpc_url,
        key,
        settings.weaviate_http_port,
        settings.weaviate_grpc_port,
    )


def connect_weaviate(settings: Settings) -> weaviate.WeaviateClient:
    """A connected Weaviate client (close it, or use it as a context manager)."""
    return connect(weaviate_endpoint(settings))


def open_redis(settings: Settings) -> redis.Redis:
    """A Redis client that has answered (fails fast, naming the URL, when Redis is down)."""
    return connect_redis(settings.redis_url)


def local_stack(settings: Settings) -> LocalStack:
    return LocalStack(
        settings.home,
        settings.weaviate_url,
        settings.weaviate_http_port,
        settings.weaviate_grpc_port,
        settings.weaviate_bin,
        settings.redis_url,
        settings.local_redis_port,
    )


# Models -------------------------------------------------------------------------------------


def _embedder_options(settings: Settings) -> tuple[str, int, str, str]:
    """Precision, batch size, backend and where OpenVINO conversions are kept."""
    return (
        settings.embed_precision,
        settings.embed_batch_size,
        settings.embed_backend,
        str(settings.openvino_dir),
    )


def _open_embedder(
    name: str, path: str, precision: str, batch_size: int, backend: str, compiled_dir: str
) -> SentenceEmbedder:
    return SentenceEmbedder(
        name,
        path,
        precision=precision,  # type: ignore[arg-type]
        batch_size=batch_size,
        backend=backend,  # type: ignore[arg-type]
        compiled_dir=compiled_dir,
    )


@functools.lru_cache(maxsize=EMBEDDERS_KEPT)
def _embedder(
    name: str, path: str, precision: str, batch_size: int, backend: str, compiled_dir: str
) -> SentenceEmbedder:
    return _open_embedder(name, path, precision, batch_size, backend, compiled_dir).warm_up()


def open_embedder(settings: Settings, name: str, path: str) -> SentenceEmbedder:
    """The model at `path` under `name`, with the configured precision and backend, loaded
    afresh (not kept: `load_embedder` keeps the ones in use)."""
    return _open_embedder(name, path, *_embedder_options(settings))


def load_embedder(settings: Settings, name: str, path: str) -> SentenceEmbedder:
    """The model at `path` under `name`, with the configured precision and backend, warmed
    up."""
    return _embedder(name, path, *_embedder_options(settings))


def build_embedder(settings: Settings, model: str | None = None) -> SentenceEmbedder:
    """The configured embedder (or `model`), warmed up."""
    name = model or settings.embed_model
    return load_embedder(settings, name, models.resolve(name, settings.models_dir))


def build_chunker(settings: Settings, embedder: SentenceEmbedder) -> StructuredChunker:
    """Chunks of the configured size that fit the model's window with their title and
    heading, counted in the model's own tokens."""
    tokenizer = embedder.tokenizer

    def count_tokens(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    return StructuredChunker(
        settings.chunk_size,
        settings.chunk_overlap,
        tokenizer=count_tokens,
        fingerprint=chunking_fingerprint(settings.chunk_size, settings.chunk_overlap),
        window=embedder.max_seq_length,
    )


@functools.cache
def _registry(url: str) -> Registry:
    return Registry(url)


def open_registry(settings: Settings) -> Registry:
    """The embedder registry (in the answer log's database; one per process and URL)."""
    return _registry(settings.answer_log_url())


def embedder_for_version(settings: Settings, version: str) -> SentenceEmbedder:
    """The model that produced vectors recorded as `version` (the configured one, or trained)."""
    configured = build_embedder(settings)
    if version in ("", configured.version):
        return configured
    entry = open_registry(settings).get(version)
    if entry is None:
        raise ConfigError(
            f"The collection was filled by embedder '{version}', which is neither the configured "
            f"model ({configured.version}) nor in the registry (`knowhere embedder list`)."
        )
    return load_embedder(settings, entry.name, model_path(settings, entry))


def model_store(settings: Settings) -> ModelStore:
    """Where fine-tuned models are published, and this host's cache of them."""
    return ModelStore(
        settings.model_store_url(),
        settings.models_dir / "cache",
        settings.model_store_options(),
    )


def model_path(settings: Settings, entry: EmbedderVersion) -> str:
    """Where this host loads a registered version from: a published model from the model
    store (through this host's cache), a base model by its name, anything else (a model
    registered by an older version) from its recorded path."""
    if entry.sha256:
        return str(model_store(settings).fetch(Artifact(entry.path, entry.sha256)))
    if entry.status == "base":
        return models.resolve(entry.name, settings.models_dir)
    return entry.path


# The index ----------------------------------------------------------------------------------


def open_store(
    client: weaviate.WeaviateClient,
    settings: Settings,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> ChunkStore:
    """The index (an alias over its current collection), created on first use."""
    store = ChunkStore(
        client,
        collection or settings.collection,
        open_access_lists(settings),
        settings.weaviate_consistency,
    )
    registry = open_registry(settings)
    registry.ensure_base(
        embedder.version,
        embedder.model_name,
        models.resolve(embedder.model_name, settings.models_dir),
    )
    store.ensure(
        embedder.version,
        embedder.dimension,
        {v.version for v in registry.versions()},
        settings.weaviate_replication,
    )
    return store


@functools.cache
def _access_lists(url: str) -> AccessLists:
    return AccessLists(url)


def open_access_lists(settings: Settings) -> AccessLists:
    """Every access list chunks were written with (shared SQL; one per process and URL)."""
    return _access_lists(settings.answer_log_url())


@functools.cache
def _access_catalog(url: str) -> AccessCatalog:
    return AccessCatalog(_access_lists(url))


def access_catalog(settings: Settings) -> AccessCatalog:
    """Which access lists an audience may read (reloaded every few seconds)."""
    return _access_catalog(settings.answer_log_url())


def index_alias(
    client: weaviate.WeaviateClient, settings: Settings, collection: str | None = None
) -> IndexAlias:
    return IndexAlias(
        client,
        collection or settings.collection,
        lambda version: embedder_for_version(settings, version),
        access_lists=open_access_lists(settings),
        consistency=settings.weaviate_consistency,
    )


def write_gate(settings: Settings, index: str) -> WriteGate:
    return WriteGate(open_redis(settings), index)


def build_indexer(
    client: weaviate.WeaviateClient,
    settings: Settings,
    source: str,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Indexer:
    store = open_store(client, settings, embedder, collection)
    hashes = DocHashStore(
        open_redis(settings), store.name, source, lambda: recorded_in(store, source).indexed
    )
    return Indexer(
        store,
        hashes,
        embedder,
        build_chunker(settings, embedder),
        alias=index_alias(client, settings, store.name),
        write_gate=write_gate(settings, store.name),
    )


def build_retriever(
    client: weaviate.WeaviateClient,
    settings: Settings,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Retriever:
    """An explicit `hybrid_alpha` is used as it is; otherwise each collection's α chosen
    from its questions (`knowhere tune`), else the model's default."""
    explicit = settings.hybrid_alpha
    store = open_store(client, settings, embedder, collection)
    return Retriever(
        store,
        embedder,
        default_alpha(embedder.model_name) if explicit is None else explicit,
        alias=index_alias(client, settings, store.name),
        catalog=access_catalog(settings),
        chosen=alpha_choices(settings) if explicit is None else None,
    )


def alpha_choices(settings: Settings) -> AlphaChoices:
    return AlphaChoices(open_redis(settings))


# Answers ------------------------------------------------------------------------------------


def build_generator(settings: Settings, embedder: SentenceEmbedder) -> Generator:
    """The configured answer generator; `auto` uses an LLM only when one is configured."""
    mode = settings.answer_mode
    if mode == "auto":
        mode = "openai" if (settings.llm_base_url or settings.llm_api_key) else "extractive"
    if mode == "openai":
        import openai

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
        client = openai.OpenAI(
            base_url=settings.llm_base_url, api_key=key, timeout=60, max_retries=3
        )
        return ChatGenerator(client, settings.llm_model)
    if mode == "llamacpp":
        return LlamaCppGenerator(settings.llamacpp_model or bundled_gguf())
    return ExtractiveGenerator(embedder)


def build_answer_service(
    client: weaviate.WeaviateClient,
    settings: Settings,
    collection: str | None = None,
    generator: Generator | None = None,
) -> AnswerService:
    """The answer service on the configured model, collection and generator."""
    embedder = build_embedder(settings)
    retriever = build_retriever(client, settings, embedder, collection)
    tokenizer = embedder.tokenizer
    threshold = min_relevance(settings, embedder)
    return AnswerService(
        retriever=retriever,
        generator=generator or build_generator(settings, embedder),
        count_tokens=lambda text: len(tokenizer.encode(text, add_special_tokens=False)),
        top_k=settings.top_k,
        context_tokens=settings.context_tokens,
        min_relevance=threshold,
        min_relevance_of=min_relevance_of(settings),
        stale_days=settings.stale_days,
        verified=verified_lookup(settings, embedder) if settings.experts_group else None,
    )


def same_question(settings: Settings, embedder: SentenceEmbedder) -> float:
    """Over this question-question similarity a verified answer is served: the setting, else
    the model's default."""
    explicit = settings.verified_similarity
    return default_same_question(embedder.model_name) if explicit is None else explicit


def open_verified_answers(settings: Settings) -> VerifiedAnswers:
    return VerifiedAnswers(settings.answer_log_url())


def verified_lookup(settings: Settings, embedder: SentenceEmbedder) -> VerifiedLookup:
    return VerifiedLookup(open_verified_answers(settings), same_question(settings, embedder))


def min_relevance(settings: Settings, embedder: SentenceEmbedder) -> float:
    """Below this similarity an answer is "not found": the setting, else the model's default."""
    explicit = settings.min_relevance
    return default_min_relevance(embedder.model_name) if explicit is None else explicit


def min_relevance_of(settings: Settings) -> Callable[[str], float] | None:
    """version → its not-found threshold: the one carried over to it by the gate when it was
    trained (kept in the registry), else its model's default; None when the setting fixes
    one threshold for every version."""
    if settings.min_relevance is not None:
        return None
    registry = open_registry(settings)

    @functools.lru_cache(maxsize=32)
    def of(version: str) -> float:
        entry = registry.get(version)
        chosen = entry.metrics.get("retrieval", {}).get("min_relevance") if entry else None
        return default_min_relevance(version) if chosen is None else float(chosen)

    return of


def low_confidence(settings: Settings, embedder: SentenceEmbedder) -> float:
    """Found answers below this similarity count as knowledge gaps too."""
    explicit = settings.gaps_low_confidence
    if explicit is not None:
        return explicit
    return min_relevance(settings, embedder) + gaps.LOW_CONFIDENCE_MARGIN


def serving_index(
    client: weaviate.WeaviateClient, settings: Settings
) -> tuple[ChunkStore, SentenceEmbedder]:
    """The collection the index's alias serves, and the model that embedded it."""
    return build_retriever(client, settings, build_embedder(settings)).current()


def open_answer_log(settings: Settings) -> AnswerLog:
    return AnswerLog(settings.answer_log_url())


def open_people_directory(settings: Settings) -> PeopleDirectory:
    return PeopleDirectory(settings.answer_log_url())


def directory(settings: Settings) -> Directory:
    """Principals by e-mail: the directory synced from the sources, plus the groups file."""
    return Directory(GroupDirectory.load(settings.groups_file), open_people_directory(settings))


# Sources and syncs --------------------------------------------------------------------------


def confluence_client(config: SourceConfig) -> ConfluenceClient:
    return ConfluenceClient(str(config.url), config.auth())


def build_connector(config: SourceConfig, settings: Settings) -> Connector:
    """The connector of a declared source (Confluence spaces, or ticket export files)."""
    if config.is_confluence:
        fallback = config.space_access.access() if config.space_access else None
        return ConfluenceConnector(
            confluence_client(config),
            config.name,
            config.spaces,
            settings.sync_batch_size,
            attachments=config.attachments,
            fallback_access=fallback,
        )
    people = People(
        config.personal_data or settings.personal_data, settings.personal_data_hmac_key()
    )
    if config.access is None:  # the sources file refuses this already
        raise ConfigError(f"source '{config.name}': add `access:` (who may read its tickets)")
    return TicketConnector(
        config.name,
        config.files(),
        READERS[config.type],
        config.model_dump(),
        people,
        config.access.access(),
    )


def database_schema(settings: Settings, upgrade: bool) -> tuple[Revision, Revision]:
    """The SQL database's schema revision before and after (`upgrade`: migrated to this
    version's, safely while other processes start)."""
    return schema_revision(settings.answer_log_url(), upgrade)


def shared_database_url(settings: Settings, who: str) -> str:
    """The database of work spread over hosts (Celery workers, and whoever sends them work).

    SQLite is one host's file: a batch on another host would find no run, a model promoted
    there no registry entry. So it is refused, with what to set instead."""
    url = settings.answer_log_url()
    if url.startswith("sqlite"):
        raise ConfigError(
            f"{who} needs a database that every host shares, not SQLite ({url}): set "
            "KNOWHERE_DATABASE_URL to PostgreSQL, e.g. postgresql+psycopg://knowhere@db/knowhere"
        )
    return url


def open_sync_runs(settings: Settings) -> SyncRuns:
    return SyncRuns(settings.answer_log_url())


def open_sync_context(settings: Settings, name: str) -> SyncContext:
    """Everything a sync of source `name` works with (close it when done)."""
    config = get_source(settings.sources_file, name)
    client = open_redis(settings)

    @functools.cache
    def recorded() -> Recorded:  # read from the collection only when Redis has lost it
        with connect_weaviate(settings) as weaviate_client:
            return recorded_in(ChunkStore(weaviate_client, settings.collection), name)

    return SyncContext(
        source=name,
        connector=build_connector(config, settings),
        runs=open_sync_runs(settings),
        redis=client,
        hashes=DocHashStore(client, settings.collection, name, lambda: recorded().indexed),
        versions=SourceVersions(client, settings.collection, name, lambda: recorded().versions),
        lock=SourceLock(client, name, settings.sync_lock_seconds),
        open_pairs=lambda: TicketPairs(settings.answer_log_url()),
        batch_size=settings.sync_batch_size,
        known_groups=lambda: _known_groups(settings, name),
        chunking=chunking_fingerprint(settings.chunk_size, settings.chunk_overlap),
    )


def _known_groups(settings: Settings, source: str) -> set[str] | None:
    people = open_people_directory(settings)
    try:
        return people.groups_of(source)
    finally:
        people.close()


# Learning -----------------------------------------------------------------------------------


def learning_policy(settings: Settings) -> LearningPolicy:
    return LearningPolicy(
        min_pairs=settings.train_min_pairs,
        document_pairs=settings.train_document_pairs,
        new_pairs=settings.train_new_pairs,
        every_days=settings.train_every_days,
        auto_promote=settings.auto_promote,
        gate_rule=Rule(
            min_questions=settings.gate_min_dev_questions,
            confidence=settings.gate_confidence,
            tolerance=settings.gate_tolerance,
        ),
        guard_set=settings.guard_set,
        train=TrainParams(
            epochs=settings.train_epochs,
            learning_rate=settings.train_learning_rate,
            batch_size=settings.train_batch_size,
        ),
    )


def learning_context(settings: Settings, client: weaviate.WeaviateClient) -> LearningContext:
    """What the feedback loop works with for the configured index (close it when done)."""
    open_store(client, settings, build_embedder(settings))  # the index exists, base registered
    return LearningContext(
        index=settings.collection,
        client=client,
        alias=index_alias(client, settings),
        registry=open_registry(settings),
        answer_log=open_answer_log(settings),
        ticket_pairs=TicketPairs(settings.answer_log_url()),
        redis=open_redis(settings),
        write_gate=write_gate(settings, settings.collection),
        load_embedder=lambda name, path: load_embedder(settings, name, path),
        open_embedder=lambda name, path: open_embedder(settings, name, path),
        embedder_for=lambda version: embedder_for_version(settings, version),
        models=model_store(settings),
        model_path=lambda entry: model_path(settings, entry),
        finetuned_dir=settings.models_dir / "finetuned",
        training_sets_dir=settings.data_dir / "training-sets",
        policy=learning_policy(settings),
        min_relevance_of=min_relevance_of(settings),
    )
