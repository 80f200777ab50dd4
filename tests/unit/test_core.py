"""The library's pure parts: chunk ids and headings, metrics, citations, model resolution."""

from __future__ import annotations

import pytest
from llama_index.core import Document

from indexing import Hit, ModelError
from indexing.answers.answer import build_answer
from indexing.answers.extractive import ExtractiveGenerator
from indexing.answers.generator import NO_ANSWER, answer
from indexing.embedding import models
from indexing.evaluation.alpha_sweep import choose_alpha
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


def words(text: str) -> list[str]:
    return text.split()


def confluence_chunks(markdown: str) -> list:
    """The chunks of a Confluence page whose storage format became `markdown`."""
    page = Document(
        id_="wiki:page/7", text=markdown, metadata={"title": "Runbook", "format": "confluence"}
    )
    return StructuredChunker(chunk_size=256, chunk_overlap=0).chunk(page)


def test_a_confluence_page_is_chunked_by_its_sections_with_their_heading_paths():
    chunks = confluence_chunks(
        "Intro to the runbook.\n\n## Restart\n\nRun the restart job.\n\n"
        "### On weekends\n\nPage the on-call first.\n\n## Logs\n\nLogs live in Loki."
    )

    assert [(c.metadata["heading"], c.text) for c in chunks] == [
        ("", "Intro to the runbook."),
        ("Restart", "Run the restart job."),
        ("Restart > On weekends", "Page the on-call first."),
        ("Logs", "Logs live in Loki."),
    ]


def test_a_list_of_links_is_not_kept_as_a_chunk_but_prose_with_links_is():
    chunks = confluence_chunks(
        "## Related pages\n\n* [Restart](https://wiki/restart)\n* [Logs](https://wiki/logs)"
        "\n\n## Restart\n\nRun the [restart job](https://ci/restart) and wait for green."
    )

    assert [c.metadata["heading"] for c in chunks] == ["Restart"]


def test_code_blocks_stay_whole_and_no_small_tail_is_left_alone():
    code = "```\nfor host in a b c; do\n\n  ssh $host uptime\n\ndone\n```"
    prose = " ".join(f"Sentence {n} explains the deployment step." for n in range(12))
    doc = Document(
        id_="kb:deploy.md",
        text=f"# Deploy\n\n{prose}\n\n{code}\n\nDone.",
        metadata={"title": "Deploy", "format": "markdown"},
    )
    chunker = StructuredChunker(chunk_size=60, chunk_overlap=0, tokenizer=words)

    texts = [c.text for c in chunker.chunk(doc)]

    assert sum(code in t for t in texts) == 1  # the fence and its blank lines in one chunk
    assert all(len(t.split()) <= 60 for t in texts)
    assert texts[-1].endswith("Done.") and len(texts[-1].split()) > 3  # the tail joined


def test_a_chunk_and_its_title_and_heading_fit_the_model_window():
    heading = "Operations " * 20
    doc = Document(
        id_="kb:ops.md",
        text=f"# {heading}\n\n" + "word " * 300,
        metadata={"title": "Runbook", "format": "markdown"},
    )
    chunker = StructuredChunker(chunk_size=256, chunk_overlap=0, tokenizer=words, window=128)

    chunks = chunker.chunk(doc)

    embedded = [len(c.get_content(metadata_mode="embed").split()) for c in chunks]
    assert max(embedded) <= 128 - 2 and len(chunks) == 3


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


def test_alpha_is_the_one_that_ranks_the_judged_questions_best():
    qrels = {f"q{n}": {f"d{n}": 1} for n in range(10)}
    queries = {q: q for q in qrels}

    def rank(query: str, alpha: float) -> list[str]:  # right at 0.6 only, else second
        wanted = f"d{query[1:]}"
        return [wanted, "x"] if alpha == 0.6 else ["x", wanted]

    choice = choose_alpha(rank, queries, qrels, "dev", default=0.95)

    assert choice.alpha == 0.6 and choice.questions == 10
    assert choice.ndcg_by_alpha["0.6"] == 1.0 > choice.ndcg_by_alpha["0.95"]
    with pytest.raises(ValueError, match="at least 10"):
        choose_alpha(rank, {"q1": "q1"}, {"q1": {"d1": 1}}, "dev", default=0.95)
