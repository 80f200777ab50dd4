"""The library's pure parts: chunk ids and headings, metrics, citations, model resolution."""

from __future__ import annotations

import pytest
from llama_index.core import Document

from indexing import Hit, ModelError
from indexing.answers.answer import build_answer
from indexing.answers.extractive import ExtractiveGenerator
from indexing.answers.generator import NO_ANSWER, answer
from indexing.embedding import models
from indexing.evaluation.metrics import mrr_at_k, ndcg_at_k, recall_at_k, score_run
from indexing.ingest.chunking import StructuredChunker, chunk_id
from indexing.ingest.documents import content_hash
from indexing.search.tuning import default_alpha


def hit(number: int, text: str, doc: str = "kb:a.md") -> Hit:
    return Hit(f"id-{number}", doc, text, "Title", "Title > Part", "file:///a.md", "kb", 0, 1.0)


def test_chunks_keep_their_heading_path_and_get_stable_ids():
    doc = Document(
        id_="kb:guide.md",
        text="# Guide\nIntro.\n## Setup\nInstall it.\n### Linux\nUse apt.\n## Use\nRun it.",
        metadata={"title": "Guide", "format": "markdown", "url": "file:///guide.md"},
    )
    chunks = StructuredChunker(chunk_size=64, chunk_overlap=8).chunk(doc)

    assert [c.metadata["heading"] for c in chunks] == [
        "Guide",
        "Guide > Setup",
        "Guide > Setup > Linux",
        "Guide > Use",
    ]
    assert [c.node_id for c in chunks] == [chunk_id("kb:guide.md", i) for i in range(4)]
    assert chunks[2].get_content(metadata_mode="embed").startswith("title: Guide\nheading:")
    again = StructuredChunker(chunk_size=64, chunk_overlap=8).chunk(doc)
    assert [c.node_id for c in again] == [c.node_id for c in chunks]


def test_content_hash_ignores_modification_time_but_not_text_or_title():
    base = Document(id_="d", text="hello", metadata={"title": "T", "updated_at": "2020"})
    touched = Document(id_="d", text="hello", metadata={"title": "T", "updated_at": "2026"})
    retitled = Document(id_="d", text="hello", metadata={"title": "U", "updated_at": "2020"})
    assert content_hash(base) == content_hash(touched) != content_hash(retitled)


def test_ranking_metrics_match_their_definitions():
    relevant = {"a": 1}
    assert ndcg_at_k(["x", "a"], relevant, 10) == pytest.approx(1 / 1.58496, rel=1e-4)
    assert mrr_at_k(["x", "a"], relevant, 10) == 0.5
    assert recall_at_k(["x"], relevant, 10) == 0.0
    run = score_run({"q1": ["a"], "q2": []}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert run == {"ndcg@10": 0.5, "recall@10": 0.5, "mrr@10": 0.5, "n_queries": 2}


def test_answer_lists_only_cited_sources_and_says_so_when_nothing_is_found():
    passages = [hit(1, "One."), hit(2, "Two.", "kb:b.md"), hit(3, "Three.")]
    result = build_answer("q?", "It is two [2].", passages, "test")
    assert [c.number for c in result.citations] == [2]
    assert result.citations[0].doc_id == "kb:b.md"
    assert result.retrieved == ["id-1", "id-2", "id-3"]

    class Never:
        name = "never"

        def generate(self, question, passages):
            raise AssertionError("no passages: the generator must not be asked")

    assert answer("q?", [], Never()).text == NO_ANSWER


def test_extractive_answer_quotes_the_closest_sentence_with_its_number():
    from indexing import SentenceEmbedder

    path = models.resolve("all-MiniLM-L6-v2", models_dir=models.Path("/nonexistent"))
    generator = ExtractiveGenerator(SentenceEmbedder("all-MiniLM-L6-v2", path, "fp32").warm_up())
    passages = [
        hit(1, "Laptops are replaced every three years. Monitors can be expensed."),
        hit(2, "Vacation: employees have 28 days of paid leave per year. Sick leave differs."),
    ]
    text = generator.generate("How many vacation days do employees get?", passages)
    assert text.startswith("Vacation: employees have 28 days of paid leave per year. [2]")


def test_model_names_resolve_to_offline_copies_or_pass_through(tmp_path):
    assert models.resolve("all-MiniLM-L6-v2", tmp_path).endswith("model")
    assert models.resolve("sentence-transformers/all-MiniLM-L6-v2", tmp_path).endswith("model")
    assert models.resolve(str(tmp_path), tmp_path) == str(tmp_path.resolve())
    assert models.resolve("BAAI/bge-small-en-v1.5", tmp_path) == "BAAI/bge-small-en-v1.5"
    with pytest.raises(ModelError, match="knowhere models fetch all-mpnet-base-v2"):
        models.resolve("all-mpnet-base-v2", tmp_path)


def test_tuned_hybrid_weight_is_found_by_model_base_name():
    assert default_alpha("sentence-transformers/all-mpnet-base-v2") == 0.95
    assert default_alpha("all-MiniLM-L6-v2") == 0.75
    assert default_alpha("/models/my-finetune") == 0.8
