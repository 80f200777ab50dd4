"""Many hosts, one truth: a three-node Weaviate cluster (the same pinned binary, gossip, data
and Raft ports on loopback, fixed node names) holding each collection on every node.

An SRE's story: a node dies while a Confluence space is synced and people keep asking. The
sync finishes, every question is answered, and afterwards every page's chunks are there
exactly once. The client talks to one node, as it would to a load balancer's pick; the node
that dies is another one, whose replicas the others stand in for: a follower, or the Raft
leader (then alias lookups time out once and are asked again after the election: the sync and
the questions stall for about the client's query timeout, and go on).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import WEAVIATE_KEY, _weaviate_binary
from processes import wait_for
from standins.confluence_standin import TOKEN, ConfluenceStandIn, generate_space
from test_sources import TOKEN_ENV, chunks_by_doc, with_sources, write_sources

from indexing import Audience, ChunkStore, Principal, compose, jobs
from indexing.infra.local_services import (
    WeaviateProcess,
    port_open,
    start,
    wait_until_ready,
    weaviate_raft_leader,
)

STAFF = Audience.of([Principal.of("sam@example.com", ["staff"])])  # the space's readers


@pytest.fixture
def cluster(tmp_path) -> Iterator[list[tuple[WeaviateProcess, object]]]:
    nodes = WeaviateProcess.cluster(_weaviate_binary(), tmp_path / "cluster", 3, WEAVIATE_KEY)
    running = []
    try:
        for node in nodes:
            log = node.data_dir / "weaviate.log"
            running.append((node, start(node.command(), log, env=node.env()), log))
            if node is nodes[0]:  # the others join its gossip: it must listen first
                wait_for(lambda: port_open(nodes[0].gossip_port), timeout=60)
        for node, process, log in running:
            wait_until_ready("Weaviate " + node.hostname, node.url, node.is_ready, process, log)
        yield [(node, process) for node, process, _ in running]
    finally:
        for _, process, _ in running:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)


@pytest.mark.parametrize("dies", ["a follower", "the Raft leader"])
def test_a_node_dies_during_a_sync_and_questions_and_nothing_is_lost_or_doubled(
    settings, cluster, dies, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    leader = wait_for(lambda: weaviate_raft_leader(cluster[0][0].http_port, WEAVIATE_KEY), 60)
    doomed, doomed_process = next(
        (node, process)
        for node, process in cluster
        if (node.hostname == leader) == (dies == "the Raft leader")
    )
    first = next(node for node, _ in cluster if node is not doomed)  # the client's node
    with ConfluenceStandIn() as site:
        pages = generate_space(site.state, "GEN", 60)
        site.state.delay = 0.2  # each batch's fetch takes a while: the kill lands mid-sync
        config = with_sources(
            settings.model_copy(
                update={
                    "weaviate_http_port": first.http_port,
                    "weaviate_grpc_port": first.grpc_port,
                    "weaviate_replication": 3,
                }
            ),
            write_sources(tmp_path / "sources.yml", site.url, spaces="[GEN]"),
            sync_batch_size=5,
        )
        # The index exists (on every node) before the story starts.
        with compose.connect_weaviate(config) as client:
            store = compose.open_store(client, config, compose.build_embedder(config))
            target = ChunkStore(client, store.target())
            assert wait_for(target.replication, timeout=30) == 3

        outcome: dict[str, object] = {}
        answered: list[int] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def sync() -> None:
            try:
                outcome["run"] = jobs.sync_source(config, "wiki", full=True)
            except Exception as err:  # noqa: BLE001 - the test reports it
                outcome["error"] = err

        def keep_asking() -> None:
            with compose.connect_weaviate(config) as client:
                retriever = compose.build_retriever(client, config, compose.build_embedder(config))
                while not stop.is_set():
                    try:
                        found = retriever.search("how do I deploy svc00012", 3, STAFF)
                        answered.append(len(found.hits))
                    except Exception as err:  # noqa: BLE001 - the test reports it
                        errors.append(err)
                    time.sleep(0.05)

        syncing = threading.Thread(target=sync)
        asking = threading.Thread(target=keep_asking)
        syncing.start()
        asking.start()
        while site.state.count("cql=id+in") < 4:  # a few batches in
            time.sleep(0.05)
        doomed_process.send_signal(signal.SIGKILL)
        doomed_process.wait(timeout=30)
        syncing.join(timeout=600)
        time.sleep(1.0)  # a few questions with the node gone
        stop.set()
        asking.join(timeout=60)

    run = outcome.get("run")
    assert "error" not in outcome, outcome
    assert run is not None and run.status == "finished" and run.counts.failed == 0, run
    assert not errors, errors[:3]
    assert len(answered) > 10  # every question answered, none failed (above)
    with compose.connect_weaviate(config) as client:  # and with the node gone, it is found
        retriever = compose.build_retriever(client, config, compose.build_embedder(config))
        found = wait_for(lambda: retriever.search("how do I deploy svc00012", 3, STAFF).hits, 30)
    assert "svc00012" in found[0].title
    docs = chunks_by_doc(config)
    assert set(docs) == {f"wiki:page/{p.id}" for p in pages}
    for chunks in docs.values():  # exactly once: chunk indexes 0..n-1
        indexes = sorted(c.chunk_index for c in chunks)
        assert indexes == list(range(len(indexes)))
