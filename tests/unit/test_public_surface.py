"""What `import indexing` offers is declared, pinned here, and each name really exists.

The bots, the workers and other programs use this surface (plus `indexing.compose`,
`indexing.jobs` and `indexing.queues`); a change to it is a decision, so it shows up here.
"""

from __future__ import annotations

import indexing

SURFACE = {
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
    "escalation_payload",
    "sign_body",
    "verify_signature",
    "strip_mentions",
    "updated_text",
    "verify_request",
}


def test_the_public_surface_is_exactly_what_is_declared():
    assert set(indexing.__all__) == SURFACE
    assert len(indexing.__all__) == len(SURFACE)  # no name listed twice


def test_every_public_name_exists_and_is_documented():
    for name in indexing.__all__:
        member = getattr(indexing, name)
        if isinstance(member, type) or callable(member):
            assert (member.__doc__ or "").strip(), f"indexing.{name} has no docstring"


def test_public_classes_say_where_they_live():
    for name in indexing.__all__:
        member = getattr(indexing, name)
        if isinstance(member, type):
            assert member.__module__.startswith("indexing."), name
