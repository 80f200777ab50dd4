"""Per-model defaults of retrieval: the hybrid weight and the not-found threshold."""

from __future__ import annotations

# Hybrid weight chosen on zaragoza/dev by benchmarks/retrieval_quality.py (nDCG@10).
TUNED_ALPHA = {"all-mpnet-base-v2": 0.95, "all-minilm-l6-v2": 0.75}
DEFAULT_ALPHA = 0.8


# Query-passage cosine below which a passage is not relevant (benchmarks/relevance_threshold.py).
MIN_RELEVANCE = {"all-mpnet-base-v2": 0.3, "all-minilm-l6-v2": 0.3}
DEFAULT_MIN_RELEVANCE = 0.3


def _base_name(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1].split("@")[0].lower()


def default_alpha(model: str) -> float:
    """The tuned hybrid weight for a model (by its base name), else a dense-leaning default."""
    return TUNED_ALPHA.get(_base_name(model), DEFAULT_ALPHA)


def default_min_relevance(model: str) -> float:
    return MIN_RELEVANCE.get(_base_name(model), DEFAULT_MIN_RELEVANCE)
