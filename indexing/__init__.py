"""Knowhere's core library: sources → chunks → embeddings → Weaviate → answers with citations.

This is the public surface: what the bots, the workers and other programs may use. The
composition root (`indexing.compose`), the jobs (`indexing.jobs`) and the task and queue
names (`indexing.queues`) are the other modules meant for them; everything else is internal
and may move.
"""

from .access.directory import Directory, PeopleDirectory
from .access.groups import GroupDirectory
from .access.model import PUBLIC, PUBLIC_ONLY, Access, Audience, Clause, Principal
from .answers.answer import Answer, Citation, VerifiedAnswer
from .answers.escalation import escalation_payload, sign_body, verify_signature
from .answers.follow_ups import asks_something
from .answers.freshness import stale_notice, updated_text
from .answers.log import AnswerLog, FeedbackPair, StoredAnswer
from .answers.requests import AnswerRequest, RequestRefused, sign_request, verify_request
from .answers.service import AnswerService, Turn, strip_mentions
from .answers.sharing import made_from, readable_by
from .answers.verified import (
    WITHDRAWN,
    VerificationRefused,
    VerifiedAnswers,
    verified_questions,
    verify_answer,
)
from .embedding.embedder import EmbeddedQuery, SentenceEmbedder
from .errors import (
    Busy,
    ConfigError,
    DatasetError,
    GenerationError,
    KnowhereError,
    ModelError,
    ServiceUnavailable,
    SourceError,
    StoreError,
)
from .failures import Failure
from .ingest.indexer import Indexer, IndexReport
from .learning.loop import TrainOutcome
from .learning.registry import EmbedderVersion
from .learning.switch import SwitchReport
from .progress import Progress
from .search.llama import KnowhereRetriever, open_vector_store
from .search.retriever import Retriever, SearchResult
from .settings import Settings
from .sources.sources_file import SourceConfig, load_sources
from .store.access_lists import AccessCatalog
from .store.chunk import Chunk, Hit
from .store.chunk_store import ChunkStore
from .store.filters import audience_filter
from .sync.runs import Run

__all__ = [
    "WITHDRAWN",
    "VerificationRefused",
    "VerifiedAnswer",
    "VerifiedAnswers",
    "verify_answer",
    "verified_questions",
    "PUBLIC",
    "PUBLIC_ONLY",
    "Access",
    "AccessCatalog",
    "Answer",
    "AnswerLog",
    "AnswerRequest",
    "AnswerService",
    "Audience",
    "Busy",
    "Chunk",
    "ChunkStore",
    "Citation",
    "Clause",
    "ConfigError",
    "DatasetError",
    "Directory",
    "EmbeddedQuery",
    "EmbedderVersion",
    "Failure",
    "FeedbackPair",
    "GenerationError",
    "GroupDirectory",
    "Hit",
    "IndexReport",
    "Indexer",
    "KnowhereError",
    "KnowhereRetriever",
    "ModelError",
    "PeopleDirectory",
    "Principal",
    "Progress",
    "RequestRefused",
    "Retriever",
    "Run",
    "SearchResult",
    "SentenceEmbedder",
    "ServiceUnavailable",
    "Settings",
    "SourceConfig",
    "SourceError",
    "StoreError",
    "StoredAnswer",
    "escalation_payload",
    "sign_body",
    "verify_signature",
    "SwitchReport",
    "TrainOutcome",
    "Turn",
    "asks_something",
    "audience_filter",
    "load_sources",
    "made_from",
    "open_vector_store",
    "readable_by",
    "sign_request",
    "stale_notice",
    "strip_mentions",
    "updated_text",
    "verify_request",
]
