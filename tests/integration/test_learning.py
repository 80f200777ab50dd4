"""Learning from feedback: training sets, fine-tuning, the gate, the registry, and switching
the index to a re-embedded collection while people keep asking and pages keep changing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from processes import celery_worker

from bot.feedback import record_reaction, record_source_vote
from indexing import PUBLIC_ONLY, ChunkStore, ConfigError, EmbedderVersion, Settings, compose, jobs
from indexing.evaluation.beir import load_beir
from indexing.ingest.chunking import chunk_id
from indexing.learning.switch import switch_index
from indexing.learning.training_set import LabelledPair, TrainingSet, build, normalise
from indexing.sources.tickets.pairs import TicketPair, TicketPairs
from indexing.store.schema import collection_name

ZARAGOZA = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "zaragoza"


PLACES = ["printer", "kitchen", "library", "gym", "server room", "mail room", "lab", "garage"]
CORPUS = {
    f"c{i}": f"Office note {i}: the {place} is on floor {i}." for i, place in enumerate(PLACES)
}


def vote(query: str, passage_id: str, label: int) -> LabelledPair:
    return LabelledPair(query, CORPUS[passage_id], passage_id, label, "feedback")


def test_training_set_keeps_clean_labels_and_splits_by_query(settings, tmp_path):
    embedder = compose.build_embedder(settings)
    pairs = [vote(f"where is the {place}?", f"c{i}", 1) for i, place in enumerate(PLACES[:6])]
    pairs += [
        vote("where is the printer?", "c0", 1),  # the same vote twice counts once
        vote("Where is  the PRINTER?", "c6", -1),  # a 👎: a hard negative for that query
        vote("where is the lab?", "c6", 1),  # 👍 and 👎 on the same pair: dropped
        vote("where is the lab?", "c6", -1),
        LabelledPair("how do I reset my VPN token?", "Open the portal.", "t:1", 1, "ticket"),
    ]

    first = build(pairs, embedder.model, CORPUS, dev_fraction=0.3)
    again = build(pairs, embedder.model, CORPUS, dev_fraction=0.3)

    assert first.content_hash == again.content_hash  # same input, same set
    assert first.stats["duplicates"] == 2 and first.stats["conflicting"] == 1
    assert first.stats["ticket_pairs"] == 1
    train_queries = {normalise(t.anchor) for t in first.train}
    dev_queries = {normalise(d.query) for d in first.dev}
    assert train_queries and dev_queries and not train_queries & dev_queries
    assert "where is the lab?" not in train_queries | dev_queries
    for triplet in first.train:
        assert triplet.negative != triplet.positive
        if normalise(triplet.anchor) == "where is the printer?":
            assert (triplet.negative, triplet.negative_origin) == (CORPUS["c6"], "feedback")
    saved = first.save(tmp_path / "sets")
    assert TrainingSet.load(saved) == first
    assert first.version.endswith(first.content_hash[:8])


def _index_knowledge_base(settings: Settings, folder: Path) -> None:
    report = jobs.index_folder(settings, folder)
    assert not report.failed


def _twin_of_the_model(
    settings: Settings, tmp_path: Path, name: str = "minilm-twin", parent: str | None = None
) -> str:
    """Register a copy of the test model under another name: a second 'version' to switch to."""
    from indexing.embedding import models

    source = Path(models.resolve(settings.embed_model, settings.models_dir))
    copy = tmp_path / name
    shutil.copytree(source, copy)
    twin = compose.load_embedder(settings, name, str(copy))
    compose.open_registry(settings).add(
        EmbedderVersion(
            twin.version,
            name,
            str(copy),
            "candidate",
            parent=parent or compose.build_embedder(settings).version,
        )
    )
    return twin.version


def test_while_a_switch_journals_it_learns_exactly_which_documents_were_written(
    settings, knowledge_base
):
    _index_knowledge_base(settings, knowledge_base)
    gate = compose.write_gate(settings, settings.collection)

    with gate.journal() as journal:
        vpn = knowledge_base / "it" / "vpn.md"
        vpn.write_text(vpn.read_text() + "\n\nThe VPN now needs the new client.\n")
        (knowledge_base / "hr" / "expenses.txt").unlink()
        _index_knowledge_base(settings, knowledge_base)
        assert journal.take() == {"kb:it/vpn.md", "kb:hr/expenses.txt"}
        assert journal.take() == set()  # taken: the next round sees only what comes next
    _index_knowledge_base(settings, knowledge_base)  # no switch journalling: nothing kept
    assert not redis.Redis.from_url(settings.redis_url).exists(gate._journal_key)


def test_clean_up_removes_what_no_longer_serves_but_never_the_serving_or_previous(
    settings, knowledge_base, tmp_path
):
    _index_knowledge_base(settings, knowledge_base)
    registry = compose.open_registry(settings)
    with compose.connect_weaviate(settings) as client:
        first = client.alias.get(alias_name=settings.collection).collection
    twin_a = _twin_of_the_model(settings, tmp_path, "twin-a")
    second = jobs.promote(settings, twin_a).to_collection
    twin_b = _twin_of_the_model(settings, tmp_path, "twin-b", parent=twin_a)  # trained from a
    third = jobs.promote(settings, twin_b).to_collection
    store = compose.model_store(settings)
    trained = tmp_path / "rejected-model"
    shutil.copytree(tmp_path / "twin-a", trained)
    artifact = store.publish(trained, "minilm-ft-rejected")
    registry.add(
        EmbedderVersion(
            "minilm-ft-rejected@0",
            "minilm-ft-rejected",
            artifact.url,
            "rejected",
            sha256=artifact.sha256,
        )
    )

    within_grace = jobs.clean_up(settings)  # the default grace: a week
    planned = jobs.clean_up(settings.model_copy(update={"gc_grace_days": 0}), dry_run=True)
    done = jobs.clean_up(settings.model_copy(update={"gc_grace_days": 0}))

    assert within_grace.collections == within_grace.models == []
    assert planned.collections == done.collections == [first]
    assert planned.models == done.models == ["minilm-ft-rejected@0"]
    with compose.connect_weaviate(settings) as client:
        assert not client.collections.exists(first)
        assert client.collections.exists(second) and client.collections.exists(third)
        assert client.alias.get(alias_name=settings.collection).collection == third
    assert not Path(artifact.url.removeprefix("file://")).exists()
    assert registry.get("minilm-ft-rejected@0").status == "removed"  # type: ignore[union-attr]
    assert jobs.rollback(settings).to_collection == second  # the parent's is still there


def _expected_chunk_ids(settings: Settings, folder: Path) -> set[str]:
    from indexing.sources.folder import scan_folder

    embedder = compose.build_embedder(settings)
    chunker = compose.build_chunker(settings, embedder)
    scan = scan_folder(folder.resolve(), folder.name, settings.max_file_bytes)
    return {
        chunk_id(d.id_, n.metadata["chunk_index"]) for d in scan.documents for n in chunker.chunk(d)
    }


def test_switching_models_keeps_answering_and_loses_no_chunk(settings, knowledge_base, tmp_path):
    _index_knowledge_base(settings, knowledge_base)
    twin = _twin_of_the_model(settings, tmp_path)
    answers, errors = [], []
    stop = threading.Event()

    def keep_asking() -> None:
        with compose.connect_weaviate(settings) as client:
            service = compose.build_answer_service(client, settings)
            while not stop.is_set():
                try:
                    answer = service.ask("How do I request vacation?", PUBLIC_ONLY)
                    answers.append((answer.embedder, bool(answer.citations)))
                except Exception as error:  # noqa: BLE001 - the test reports it
                    errors.append(error)

    def keep_editing() -> None:
        pages = sorted(knowledge_base.rglob("*.md"))
        pages[0].write_text(pages[0].read_text() + "\n\nEdited while switching.\n")
        pages[1].unlink()
        (knowledge_base / "new-page.md").write_text("# Parking\n\nVisitors park on level -2.\n")
        _index_knowledge_base(settings, knowledge_base)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    with compose.connect_weaviate(settings) as client:
        serving = client.alias.get(alias_name=settings.collection).collection
        editor = threading.Thread(target=keep_editing)
        editor.start()
        report = jobs.promote(settings, twin)
        editor.join()
        _index_knowledge_base(settings, knowledge_base)  # anything after the switch too
        stop.set()
        asker.join()

        assert not errors and answers and all(found for _, found in answers)
        now = client.alias.get(alias_name=settings.collection).collection
        assert now == report.to_collection == collection_name(settings.collection, twin)
        expected = _expected_chunk_ids(settings, knowledge_base)
        stored = [c.id for c in ChunkStore(client, now).scan()]
        assert len(stored) == len(set(stored)) and set(stored) == expected
        assert client.collections.exists(serving)  # kept for rollback
        # Queries now embed with the model that filled the collection they hit.
        service = compose.build_answer_service(client, settings)
        assert service.ask("Where do visitors park?", PUBLIC_ONLY).embedder == twin

        back = jobs.rollback(settings)
        assert back.to_collection == serving
        old = [c.id for c in ChunkStore(client, serving).scan()]
        assert len(old) == len(set(old)) and set(old) == expected
        versions = {v.version: v.status for v in compose.open_registry(settings).versions()}
        assert versions[twin] == "retired"
        assert [s.kind for s in compose.open_registry(settings).switches(settings.collection)] == [
            "promote",
            "rollback",
        ]


def test_a_switch_killed_half_way_resumes_without_embedding_twice(
    settings, knowledge_base, tmp_path
):
    _index_knowledge_base(settings, knowledge_base)
    twin_version = _twin_of_the_model(settings, tmp_path)
    twin = compose.embedder_for_version(settings, twin_version)
    with compose.connect_weaviate(settings) as client:
        total = ChunkStore(client, settings.collection).count()
        target = collection_name(settings.collection, twin_version)
        gate_ = compose.write_gate(settings, settings.collection)

        def crash_after_first_batch(done: int, total: int | None) -> None:
            raise KeyboardInterrupt("worker killed")

        before = twin.texts_embedded
        with pytest.raises(KeyboardInterrupt):
            switch_index(
                client, settings.collection, target, twin, gate_, crash_after_first_batch, batch=10
            )
        first = twin.texts_embedded - before
        assert first == 10
        assert client.alias.get(alias_name=settings.collection).collection != target

        report = switch_index(client, settings.collection, target, twin, gate_, batch=10)
        assert report.filled == total - first  # the first 10 were not embedded again
        assert ChunkStore(client, target).count() == total


def test_a_legacy_collection_without_alias_is_refused_with_a_hint(settings):
    embedder = compose.build_embedder(settings)
    with compose.connect_weaviate(settings) as client:
        from indexing.store.schema import create_collection

        create_collection(client, settings.collection, embedder.version, embedder.dimension)
        with pytest.raises(ConfigError, match="not an alias"):
            switch_index(
                client,
                settings.collection,
                "Elsewhere",
                embedder,
                compose.write_gate(settings, settings.collection),
            )


def _simulate_users(settings: Settings, questions: int, wrong: bool) -> None:
    """Zaragoza's users ask, and vote 👍 on each cited source that answers them (by the qrels),
    👎 on the others, the way the Slack bot records per-source votes."""
    train = load_beir(ZARAGOZA, "train")
    log = compose.open_answer_log(settings)
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        for n, (qid, relevant) in enumerate(sorted(train.qrels.items())[:questions]):
            answer = service.ask(train.queries[qid], PUBLIC_ONLY)
            answer_id = log.record(answer, "slack", "C1", f"user{n}@example.com")
            for citation in answer.citations:
                helpful = relevant.get(citation.doc_id.removeprefix("zaragoza:"), 0) > 0
                label = -1 if helpful == wrong else 1
                record_source_vote(log, answer_id, f"U{n}", citation.number, label)
        record_reaction(log, answer_id, f"U{n}", "+1", added=True)
        record_reaction(log, answer_id, f"U{n}", "+1", added=False)  # withdrawn: not counted


@pytest.fixture
def zaragoza_settings(settings, shared_database, s3_server, s3_credentials) -> Settings:
    """A help desk whose knowledge base is zaragoza's corpus, with an answer log (in the
    database its training worker shares) and models published to an S3 bucket."""
    settings = settings.model_copy(
        update={
            "database_url": shared_database,
            "model_store": f"s3://models/{settings.collection}",
            "model_store_endpoint": s3_server.url,
            "answer_mode": "extractive",
            "train_min_pairs": 20,
        }
    )
    corpus = load_beir(ZARAGOZA, "train").corpus
    with compose.connect_weaviate(settings) as client:
        embedder = compose.build_embedder(settings)
        compose.build_indexer(client, settings, "zaragoza", embedder).index(corpus, prune=True)
    return settings


@pytest.fixture
def training_worker(zaragoza_settings, settings_env, s3_credentials, tmp_path):
    """The training worker runs on a host of its own: its own KNOWHERE_HOME (models, caches,
    training sets), sharing only the services: Weaviate, Redis, PostgreSQL and the S3 store."""
    env = {
        **settings_env,
        **s3_credentials,
        "KNOWHERE_HOME": str(tmp_path / "training-host"),
        "KNOWHERE_DATABASE_URL": zaragoza_settings.database_url or "",
        "KNOWHERE_MODEL_STORE": zaragoza_settings.model_store or "",
        "KNOWHERE_MODEL_STORE_ENDPOINT": zaragoza_settings.model_store_endpoint or "",
        "KNOWHERE_ANSWER_MODE": "extractive",
        "KNOWHERE_TRAIN_MIN_PAIRS": "20",
        # zaragoza's ~300 train questions give 36 dev questions: the candidate is preferred
        # on them (+0.22) but not with 95 % confidence ([-0.06, +0.56]); this story is about
        # the worker's path to a promotion, so its gate asks for 60 %.
        "KNOWHERE_GATE_CONFIDENCE": "0.6",
    }
    with celery_worker("training", env, tmp_path / "training-worker.log"):
        yield env


def test_feedback_trains_a_better_embedder_that_serves_the_index(
    zaragoza_settings, training_worker, monkeypatch
):
    settings = zaragoza_settings
    # Every train question once, each cited source voted (150 gave only 18 dev questions).
    _simulate_users(settings, questions=400, wrong=False)
    assert jobs.training_due(settings)[0]
    for key, value in training_worker.items():
        if key.startswith("KNOWHERE_"):
            monkeypatch.setenv(key, value)
    from workers.celery_app import make_app

    result = make_app().send_task("knowhere.train_embedder", kwargs={"promote": True})
    outcome = result.get(timeout=900)
    del result

    assert outcome["status"] == "promoted", outcome["reason"]
    verdict = outcome["verdict"]
    assert verdict["candidate_dev"]["ndcg"] >= verdict["current_dev"]["ndcg"]
    assert verdict["preference"]["low"] > 0 and verdict["current_dev"]["queries"] >= 15
    assert verdict["candidate_guard"]["ndcg"] >= verdict["current_guard"]["ndcg"] - 0.01
    training_host = Path(training_worker["KNOWHERE_HOME"])
    sets = list((training_host / "data" / "training-sets").glob("ts-*.json"))
    assert [s.stem for s in sets] == [outcome["training_set"]["version"]]
    with compose.connect_weaviate(settings) as client:
        alias = client.alias.get(alias_name=settings.collection)
        assert alias.collection == outcome["switch"]["to_collection"]
        assert ChunkStore(client, alias.collection).count() == 503
    assert not jobs.training_due(settings)[0]  # nothing new since

    # This host never saw the trained model's files: it answers with it all the same, loaded
    # from the S3 store into its own cache and checked against the registry's hash.
    entry = compose.open_registry(settings).get(outcome["version"])
    assert entry is not None and entry.path.startswith(f"s3://models/{settings.collection}/")
    assert not list((training_host / "models" / "finetuned").glob("*/config.json"))
    with compose.connect_weaviate(settings) as client:
        retriever = compose.build_retriever(client, settings, compose.build_embedder(settings))
        found = retriever.search("¿Dónde se paga el impuesto de circulación?", 3)
    assert found.hits and found.embedder == outcome["version"]
    assert (settings.models_dir / "cache" / (entry.sha256 or "?") / "config.json").exists()

    listed = subprocess.run(
        [sys.executable, "-m", "indexing.cli", "embedder", "list", "--json"],
        env=training_worker,
        capture_output=True,
        text=True,
        check=True,
    )
    versions = {v["version"]: v for v in json.loads(listed.stdout)}
    new = versions[outcome["version"]]
    assert new["serving"] and new["status"] == "promoted"
    assert new["training_hash"] == outcome["training_set"]["hash"]
    # It answers with its own not-found threshold and hybrid weight, chosen on the dev split.
    carried = verdict["min_relevance"]  # None when the serving threshold pins nothing down
    assert new["metrics"]["retrieval"] == (
        {"min_relevance": carried["candidate"]} if carried else {}
    )
    chosen = compose.alpha_choices(settings).get(outcome["switch"]["to_collection"])
    assert chosen is not None and chosen.origin.endswith(outcome["training_set"]["version"])
    assert chosen.alpha == outcome["switch"]["alpha"]["alpha"]
    assert versions[new["parent"]]["status"] == "retired"


def test_deliberately_wrong_feedback_is_refused_by_the_gate(zaragoza_settings):
    settings = zaragoza_settings
    _simulate_users(settings, questions=150, wrong=True)
    TicketPairs(settings.answer_log_url()).add_many(
        [TicketPair("helpdesk", "T-1", "Where is the printer?", "Second floor, by the lifts.")]
    )
    with compose.connect_weaviate(settings) as client:
        serving = client.alias.get(alias_name=settings.collection).collection
        outcome = jobs.train(settings, promote=True)
        assert client.alias.get(alias_name=settings.collection).collection == serving

    assert outcome.status == "rejected", outcome.verdict
    assert outcome.training_set["ticket_pairs"] == 1
    assert outcome.switch == {}
    entry = compose.open_registry(settings).get(outcome.version or "")
    assert entry is not None and entry.status == "rejected"


def test_before_anyone_votes_the_loop_learns_from_the_documents_behind_the_gate(
    zaragoza_settings,
):
    settings = zaragoza_settings.model_copy(update={"train_document_pairs": 300})
    assert jobs.training_due(settings) == (
        True,
        "0 feedback pairs: a cold start from the documents",
    )

    outcome = jobs.train(settings, promote=False)

    assert outcome.training_set["feedback_pairs"] == 0
    assert 200 <= outcome.training_set["document_pairs"] <= 300  # type: ignore[operator]
    verdict = outcome.verdict
    assert verdict["current_dev"]["queries"] >= 15  # type: ignore[index]
    preferred = verdict["preference"]["low"] > 0  # type: ignore[index]
    assert outcome.status == ("candidate" if preferred else "rejected"), outcome.reason
    assert not jobs.training_due(settings)[0]  # judged once; next time, after feedback


def test_training_is_due_after_enough_new_pairs_or_a_week(settings, tmp_path):
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'due.db'}",
            "train_min_pairs": 2,
            "train_new_pairs": 3,
            "train_every_days": 7,
        }
    )
    assert jobs.training_due(settings) == (False, "0 feedback pairs; the first training needs 2")
    registry = compose.open_registry(settings)
    registry.add(
        EmbedderVersion(
            "m@1",
            "m",
            "/m",
            "candidate",
            training_set="ts-1",
            metrics={"set": {"feedback_pairs": 0}},
        )
    )
    assert not jobs.training_due(settings)[0]
    week_later = datetime.now(UTC) + timedelta(days=8)
    assert not jobs.training_due(settings, week_later)[0]  # old, but nothing new to learn from
