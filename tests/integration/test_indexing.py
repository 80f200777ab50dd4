"""A user indexes a folder of pages, searches it, edits and deletes pages, re-indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing import Failure, ServiceUnavailable, Settings, compose, jobs


def search(settings: Settings, query: str, k: int = 5):
    embedder = compose.build_embedder(settings)
    with compose.connect_weaviate(settings) as client:
        return compose.build_retriever(client, settings, embedder).search(query, k).hits


def stored(settings: Settings) -> dict[str, list[dict]]:
    """All stored chunks grouped by document id."""
    by_doc: dict[str, list[dict]] = {}
    with compose.connect_weaviate(settings) as client:
        for obj in client.collections.use(settings.collection).iterator():
            by_doc.setdefault(obj.properties["doc_id"], []).append(
                {"id": str(obj.uuid), **obj.properties}
            )
    return by_doc


def test_indexing_a_folder_makes_its_pages_searchable(settings, knowledge_base):
    report = jobs.index_folder(settings, knowledge_base)

    assert report.added == 7 and report.failed == [] and report.skipped == []
    assert report.texts_embedded == report.chunks_written > 7
    hits = search(settings, "What should I do if my laptop was stolen?")
    assert hits[0].doc_id == "kb:it/laptops.md"
    assert "Lost or stolen laptop" in hits[0].heading
    assert hits[0].url == (knowledge_base / "it" / "laptops.md").resolve().as_uri()


def test_html_pages_are_cleaned_and_keep_their_heading_path(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)

    chunks = stored(settings)["kb:it/password-policy.html"]
    text = " ".join(c["text"] for c in chunks)
    assert "analytics" not in text and "font-family" not in text and "<p>" not in text
    assert {c["title"] for c in chunks} == {"Password and MFA policy"}
    assert "Password and MFA policy > Resetting your password" in {c["heading"] for c in chunks}
    hits = search(settings, "lost my MFA device, how do I reset my password?")
    assert hits[0].doc_id == "kb:it/password-policy.html"


def test_reindexing_an_unchanged_folder_embeds_nothing_and_duplicates_nothing(
    settings, knowledge_base
):
    first = jobs.index_folder(settings, knowledge_base)
    before = stored(settings)

    second = jobs.index_folder(settings, knowledge_base)

    assert second.texts_embedded == 0 and second.chunks_written == 0
    assert second.unchanged == 7 and second.added == second.updated == 0
    assert stored(settings) == before
    assert sum(len(c) for c in before.values()) == first.chunks_written


def test_a_new_chunk_size_chunks_the_folder_again_and_then_nothing(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    before = stored(settings)
    smaller = settings.model_copy(update={"chunk_size": 64, "chunk_overlap": 8})

    rechunked = jobs.index_folder(smaller, knowledge_base)
    again = jobs.index_folder(smaller, knowledge_base)

    assert rechunked.updated == 7 and rechunked.unchanged == 0
    after = stored(settings)
    assert sum(map(len, after.values())) > sum(map(len, before.values()))
    assert all(len(c["text"].split()) <= 64 for chunks in after.values() for c in chunks)
    assert again.unchanged == 7 and again.texts_embedded == 0


def test_editing_a_file_replaces_exactly_its_chunks(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    before = stored(settings)
    vpn = knowledge_base / "it" / "vpn.md"
    vpn.write_text("# VPN access\n\nThe VPN was retired in 2026; use the zero-trust portal.\n")

    report = jobs.index_folder(settings, knowledge_base)

    assert (report.updated, report.added, report.unchanged) == (1, 0, 6)
    assert report.texts_embedded == 1
    after = stored(settings)
    assert len(after["kb:it/vpn.md"]) == 1
    assert "zero-trust portal" in after["kb:it/vpn.md"][0]["text"]
    assert report.chunks_removed == len(before["kb:it/vpn.md"]) - 1
    others = {d: c for d, c in after.items() if d != "kb:it/vpn.md"}
    assert others == {d: c for d, c in before.items() if d != "kb:it/vpn.md"}


def test_deleting_a_file_removes_its_chunks(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    (knowledge_base / "hr" / "vacation.md").unlink()

    report = jobs.index_folder(settings, knowledge_base)

    assert report.deleted == 1 and report.texts_embedded == 0
    assert "kb:hr/vacation.md" not in stored(settings)
    assert all(h.doc_id != "kb:hr/vacation.md" for h in search(settings, "vacation days", 10))


def test_touching_a_file_without_changing_it_costs_nothing(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    page = knowledge_base / "hr" / "expenses.txt"
    page.write_text(page.read_text())

    assert jobs.index_folder(settings, knowledge_base).texts_embedded == 0


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_indexed(settings, knowledge_base):
    (knowledge_base / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (knowledge_base / "dump.txt").write_bytes(b"abc\x00\x01\x02binary")
    (knowledge_base / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    (knowledge_base / "huge.md").write_text("# Big\n" + "word " * 300_000)
    (knowledge_base / "empty.md").write_text("   \n")
    settings = settings.model_copy(update={"max_file_bytes": 1_000_000})

    report = jobs.index_folder(settings, knowledge_base)

    reasons = {Path(s.item).name: s.reason for s in report.skipped}
    assert set(reasons) == {"logo.png", "dump.txt", "latin1.md", "huge.md", "empty.md"}
    assert "unsupported file type" in reasons["logo.png"]
    assert "binary" in reasons["dump.txt"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "too large" in reasons["huge.md"]
    assert "empty" in reasons["empty.md"]
    assert report.added == 7


def test_unreachable_redis_fails_before_anything_is_written(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    before = stored(settings)
    (knowledge_base / "new.md").write_text("# New page\n\nFresh content.\n")
    down = settings.model_copy(update={"redis_url": "redis://:s3cret@127.0.0.1:1/0"})

    with pytest.raises(ServiceUnavailable) as failure:
        jobs.index_folder(down, knowledge_base)

    assert "redis://:***@127.0.0.1:1/0" in str(failure.value)
    assert "s3cret" not in str(failure.value)
    assert stored(settings) == before


def test_overlapped_indexing_on_a_gpu_writes_the_same_chunks_and_isolates_a_bad_page(
    settings, knowledge_base, monkeypatch
):
    """The GPU path (chunk ahead, write behind) runs here on the CPU, forced on."""
    from indexing.ingest.chunking import StructuredChunker
    from indexing.sources.folder import scan_folder

    documents = scan_folder(knowledge_base, "kb", settings.max_file_bytes).documents
    in_turn = settings.model_copy(update={"collection": settings.collection + "_turns"})
    embedder = compose.build_embedder(settings)
    with compose.connect_weaviate(settings) as client:
        reference = compose.build_indexer(client, in_turn, "kb", embedder)
        reference.docs_per_batch = 2
        assert not reference.overlap  # on the CPU the steps take turns
        reference.index(documents, prune=True)

        overlapped = compose.build_indexer(client, settings, "kb", embedder)
        overlapped.docs_per_batch, overlapped.overlap = 2, True
        bad = documents[3].id_
        original = StructuredChunker.chunk

        def chunk(self, document):
            if document.id_ == bad:
                raise ValueError("this page cannot be chunked")
            return original(self, document)

        monkeypatch.setattr(StructuredChunker, "chunk", chunk)
        report = overlapped.index(documents, prune=True)

    assert report.failed == [Failure(bad, "ValueError: this page cannot be chunked")]
    assert report.added == len(documents) - 1
    expected = {d: c for d, c in stored(in_turn).items() if d != bad}
    drop = ("embedder",)
    strip = lambda chunks: sorted(  # noqa: E731
        ({k: v for k, v in c.items() if k not in drop} for c in chunks), key=lambda c: c["id"]
    )
    assert {d: strip(c) for d, c in stored(settings).items()} == {
        d: strip(c) for d, c in expected.items()
    }


def test_a_pasted_identifier_finds_the_one_page_that_holds_it_first(settings, knowledge_base):
    (knowledge_base / "it" / "phones.md").write_text(
        "# Desk phones\n\n## Escalations\n\n"
        "Zebra-unicorn-frobnication policy: call extension 4242 and ask for the on-call lead.\n"
    )
    jobs.index_folder(settings, knowledge_base)

    for question in (
        "zebra-unicorn-frobnication policy",
        "who answers on extension 4242?",
        'what is the "frobnication policy"?',
    ):
        assert search(settings, question)[0].doc_id == "kb:it/phones.md", question
    dense_only = settings.model_copy(update={"hybrid_alpha": 1.0})  # a vector query, words too
    assert search(dense_only, "zebra-unicorn-frobnication policy")[0].doc_id == "kb:it/phones.md"


def test_an_identifier_many_pages_share_leaves_the_ranking_to_the_search(settings, knowledge_base):
    for n in range(5):
        (knowledge_base / "it" / f"printer-{n}.md").write_text(
            f"# Printer floor {n}\n\nPrinters report error E-100 when the tray is empty.\n"
        )
    jobs.index_folder(settings, knowledge_base)
    question = "my laptop was stolen, error E-100"
    embedder = compose.build_embedder(settings)
    with compose.connect_weaviate(settings) as client:
        retriever = compose.build_retriever(client, settings, embedder)
        plain = retriever.store.query(
            question, embedder.embed_query(question).vector, 5, alpha=retriever.alpha
        )

    assert [h.chunk_id for h in search(settings, question)] == [h.chunk_id for h in plain]


# What is indexed survives Redis losing it ----------------------------------------------------


def test_after_redis_forgets_everything_nothing_is_embedded_again_and_deletes_still_prune(
    forgetful, knowledge_base
):
    import redis

    first = jobs.index_folder(forgetful, knowledge_base)
    before = stored(forgetful)
    redis.Redis.from_url(forgetful.redis_url).flushall()
    (knowledge_base / "hr" / "vacation.md").unlink()

    again = jobs.index_folder(forgetful, knowledge_base)

    assert again.texts_embedded == 0 and again.chunks_written == 0
    assert (again.unchanged, again.deleted) == (6, 1)
    after = stored(forgetful)
    assert after == {d: c for d, c in before.items() if d != "kb:hr/vacation.md"}
    assert sum(map(len, before.values())) == first.chunks_written


def test_a_file_that_cannot_be_read_this_time_keeps_what_is_indexed_of_it(settings, knowledge_base):
    jobs.index_folder(settings, knowledge_base)
    before = stored(settings)["kb:it/vpn.md"]
    (knowledge_base / "it" / "vpn.md").write_text("# VPN\n\n" + "tunnel " * 5_000)
    small = settings.model_copy(update={"max_file_bytes": 10_000})

    report = jobs.index_folder(small, knowledge_base)

    assert [Path(s.item).name for s in report.skipped] == ["vpn.md"]
    assert "too large" in report.skipped[0].reason
    assert report.deleted == 0 and stored(settings)["kb:it/vpn.md"] == before


def test_a_shrinking_document_loses_exactly_its_extra_chunks_even_with_no_record_of_it(
    forgetful, knowledge_base
):
    import redis

    laptops = knowledge_base / "it" / "laptops.md"
    laptops.write_text(
        "# Laptops\n\n" + "\n\n".join(f"## Part {i}\n\n" + "keys " * 300 for i in range(6))
    )
    jobs.index_folder(forgetful, knowledge_base)
    assert len(stored(forgetful)["kb:it/laptops.md"]) >= 6
    redis.Redis.from_url(forgetful.redis_url).flushall()
    laptops.write_text("# Laptops\n\nAsk the service desk for a laptop.\n")

    report = jobs.index_folder(forgetful, knowledge_base)

    chunks = stored(forgetful)["kb:it/laptops.md"]
    assert [c["chunk_index"] for c in chunks] == [0] and "service desk" in chunks[0]["text"]
    assert report.texts_embedded == 1 and report.chunks_removed >= 5


def test_a_document_of_more_chunks_than_weaviate_deletes_at_once_is_deleted_whole(settings):
    from indexing import ChunkStore
    from indexing.ingest.chunking import chunk_id
    from indexing.store.chunk import Chunk

    many = 10_000 + 300  # Weaviate deletes at most QUERY_MAXIMUM_RESULTS (10,000) per call
    with compose.connect_weaviate(settings) as client:
        store = ChunkStore(client, settings.collection)
        store.ensure("tiny-model", 4)
        store.upsert(
            [
                Chunk(
                    chunk_id(doc, i), doc, f"part {i}", [1.0, float(i % 7), 0.0, 1.0], chunk_index=i
                )
                for doc, count in (("log", many), ("note", 3))
                for i in range(count)
            ]
        )

        assert store.delete_beyond({"log": 10_200, "note": 3}) == 100
        assert store.count({"log"}) == 10_200
        assert store.delete_documents(["log"]) == 10_200
        assert store.count({"log"}) == 0 and store.count({"note"}) == 3
