"""Per-model defaults of retrieval: the hybrid weight, the not-found threshold and the
similarity at which two questions mean the same (verified answers)."""

from __future__ import annotations

# Hybrid weight chosen on zaragoza/dev by benchmarks/retrieval_quality.py (nDCG@10).
TUNED_ALPHA = {"all-mpnet-base-v2": 0.95, "all-minilm-l6-v2": 0.75}
DEFAULT_ALPHA = 0.8


# Query-passage cosine below which a passage is not relevant (benchmarks/relevance_threshold.py).
MIN_RELEVANCE = {"all-mpnet-base-v2": 0.3, "all-minilm-l6-v2": 0.3}
DEFAULT_MIN_RELEVANCE = 0.3


# Question-question cosine over which a verified answer is served for a new question
# (benchmarks/verified_answers.py: held-out paraphrases against same-topic questions).
SAME_QUESTION = {"all-mpnet-base-v2": 0.83, "all-minilm-l6-v2": 0.84}
DEFAULT_SAME_QUESTION = 0.85


def _base_name(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1].split("@")[0].lower()


def default_alpha(model: str) -> float:
    """The tuned hybrid weight for a model (by its base name), else a dense-leaning default."""
    return TUNED_ALPHA.get(_base_name(model), DEFAULT_ALPHA)


def default_min_relevance(model: str) -> float:
    return MIN_RELEVANCE.get(_base_name(model), DEFAULT_MIN_RELEVANCE)


def default_same_question(model: str) -> float:
    return SAME_QUESTION.get(_base_name(model), DEFAULT_SAME_QUESTION)
