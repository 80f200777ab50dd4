"""The answer service's own decisions, with retrieval and the model replaced by small fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing import PUBLIC_ONLY, AnswerService, EmbeddedQuery, Hit, SearchResult
from indexing.answers.extractive import ExtractiveGenerator
from indexing.answers.service import NOT_FOUND

PASSAGE = "Employees have 28 days of paid leave per year. Sick leave is separate."


@dataclass
class CountingModel:
    """Embeds a text as a fixed vector and remembers every text it was asked to embed."""

    version: str = "model@1"
    texts: list[str] = field(default_factory=list)

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [[1.0, 0.0] if "28 days" in t else [0.0, 1.0] for t in texts]


@dataclass
class FixedRetriever:
    """Returns the same hits for every query, as the real retriever reports them."""

    similarity: float
    embedder: str = "model@1"
    queries: list[str] = field(default_factory=list)

    def search(self, query: str, top_k: int, audience=PUBLIC_ONLY) -> SearchResult:
        self.queries.append(query)
        hit = Hit("c1", "kb:leave.md", PASSAGE, "Leave", "", "", "kb", 0, 1.0, self.similarity)
        return SearchResult([hit], self.embedder, EmbeddedQuery(query, [1.0, 0.0], self.embedder))


def service(retriever: FixedRetriever, model: CountingModel) -> AnswerService:
    return AnswerService(
        retriever=retriever,  # type: ignore[arg-type]
        generator=ExtractiveGenerator(model),  # type: ignore[arg-type]
        count_tokens=lambda text: len(text.split()),
        min_relevance=0.3,
    )


def test_the_question_is_embedded_once_and_the_answer_names_the_model_that_served():
    model = CountingModel()
    question = "How many vacation days do I get?"

    answer = service(FixedRetriever(similarity=0.8), model).ask(question, PUBLIC_ONLY)

    assert question not in model.texts  # retrieval's vector was reused for the sentences
    assert answer.text.startswith("Employees have 28 days of paid leave per year. [1]")
    assert answer.embedder == "model@1" and answer.found


def test_a_vector_from_another_model_is_not_reused():
    model = CountingModel(version="model@2")
    question = "How many vacation days do I get?"

    service(FixedRetriever(similarity=0.8), model).ask(question, PUBLIC_ONLY)

    assert model.texts.count(question) == 1  # embedded again, in the generator's own space


def test_below_the_relevance_threshold_the_answer_says_nothing_was_found():
    answer = service(FixedRetriever(similarity=0.1), CountingModel()).ask("Parking?", PUBLIC_ONLY)

    assert answer.text == NOT_FOUND and not answer.found
    assert [c.doc_id for c in answer.citations] == ["kb:leave.md"]  # the closest, listed


def test_each_model_version_answers_with_its_own_relevance_threshold():
    """A fine-tuned model scores on its own scale: the threshold the gate carried over to it
    applies to hits from its collection, the old one to the old model's."""
    thresholds = {"model@1": 0.3, "model-ft@2": 0.5}
    ask = service(FixedRetriever(similarity=0.4), CountingModel())
    ask.min_relevance_of = thresholds.__getitem__
    assert ask.ask("Leave?", PUBLIC_ONLY).found

    tuned = service(FixedRetriever(similarity=0.4, embedder="model-ft@2"), CountingModel())
    tuned.min_relevance_of = thresholds.__getitem__
    assert tuned.ask("Leave?", PUBLIC_ONLY).text == NOT_FOUND


def test_a_follow_up_is_a_question_or_a_request_never_thanks():
    from indexing import asks_something

    for asked in (
        "and on Linux?",
        "how about contractors",
        "Can I carry them over",
        "explain the VPN setup",
    ):
        assert asks_something(asked), asked
    for said in ("thanks!", "ok, that worked", "great, thank you so much", "how nice", "👍"):
        assert not asks_something(said), said
