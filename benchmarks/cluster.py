"""A Weaviate cluster against one node: sync speed, and query latency with a node down.

The same pinned weaviate-server runs once as a single node and once as a three-node cluster
on loopback (collections with three replicas, QUORUM reads and writes). For each, a generated
Confluence space of `--pages` pages (the tests' stand-in) is synced in full into a fresh
collection (pages/s), then `--queries` hybrid searches with a 50-member audience are timed
(p50/p95). On the cluster a node that is neither the client's nor the Raft leader is then
killed, and the queries and an incremental sync with 1 % of the pages edited run again.

    knowhere services up   # Redis (this script starts its own Weaviate nodes)
    python benchmarks/cluster.py [--pages 300] [--queries 200] [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from common import confluence_sources, machine, save
from pydantic import SecretStr

from indexing import Audience, Principal, Settings, compose, jobs
from indexing.infra.local_services import (
    WeaviateProcess,
    find_weaviate_binary,
    port_open,
    start,
    wait_until_ready,
    weaviate_raft_leader,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from standins.confluence_standin import (  # noqa: E402
    EMAIL,
    TOKEN,
    ConfluenceStandIn,
    generate_space,
    generated_body,
)

API_KEY = "bench-cluster-key"
QUESTIONS = [f"how do I deploy svc{n:05d}" for n in range(0, 300, 7)] + [
    "who is on call for the payments service",
    "error-rate alert threshold",
    "request access through the identity portal",
]
# 50 readers: the space's group is `staff`; every member holds it and a few other groups.
AUDIENCE = Audience.of(
    [Principal.of(f"reader{i}@example.com", ["staff", f"team-{i % 7}"]) for i in range(50)]
)


def run_nodes(stack: ExitStack, data: Path, count: int) -> list[tuple[WeaviateProcess, object]]:
    binary = find_weaviate_binary(Settings().home)
    nodes = WeaviateProcess.cluster(binary, data, count, API_KEY)
    running = []
    for node in nodes:
        log = node.data_dir / "weaviate.log"
        process = start(node.command(), log, env=node.env())
        stack.callback(lambda p=process: (p.poll() is None and p.terminate(), p.wait(60)))
        running.append((node, process, log))
        if node is nodes[0] and count > 1:
            while not port_open(node.gossip_port):
                time.sleep(0.1)
    for node, process, log in running:
        wait_until_ready(f"Weaviate {node.hostname}", node.url, node.is_ready, process, log)
    return [(node, process) for node, process, _ in running]


def timed_queries(settings: Settings, rounds: int) -> dict[str, float]:
    with compose.connect_weaviate(settings) as client:
        retriever = compose.build_retriever(client, settings, compose.build_embedder(settings))
        for question in QUESTIONS[:5]:  # warm-up
            retriever.search(question, 5, AUDIENCE)
        seconds = []
        for n in range(rounds):
            started = time.perf_counter()
            found = retriever.search(QUESTIONS[n % len(QUESTIONS)], 5, AUDIENCE)
            seconds.append(time.perf_counter() - started)
            assert found.hits, QUESTIONS[n % len(QUESTIONS)]
    seconds.sort()
    return {
        "queries": rounds,
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p95_ms": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 2),
    }


def one_setup(args: argparse.Namespace, nodes: int, tmp: Path) -> dict[str, object]:
    with ExitStack() as stack:
        site = stack.enter_context(ConfluenceStandIn())
        pages = generate_space(site.state, "GEN", args.pages)
        running = run_nodes(stack, tmp / f"weaviate-{nodes}", nodes)
        first, _ = running[0]
        sources = confluence_sources(tmp / f"sources-{nodes}.yml", site.url, EMAIL)
        settings = Settings(
            sources_file=sources,
            embed_model=args.model,
            collection=f"Bench_{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite:///{tmp}/runs-{nodes}.db",
            weaviate_http_port=first.http_port,
            weaviate_grpc_port=first.grpc_port,
            weaviate_api_key=SecretStr(API_KEY),
            weaviate_replication=nodes,
            hybrid_alpha=0.8,
        )
        compose.build_embedder(settings).embed(["warm-up"])
        started = time.perf_counter()
        full = jobs.sync_source(settings, "bench", full=True)
        full_s = time.perf_counter() - started
        assert full is not None and full.status == "finished", full
        result: dict[str, object] = {
            "nodes": nodes,
            "replication": nodes,
            "full_sync": {
                "seconds": round(full_s, 2),
                "pages_per_s": round(args.pages / full_s, 2),
                "chunks_embedded": full.counts.embedded,
            },
            "queries_all_up": timed_queries(settings, args.queries),
        }
        if nodes > 1:
            leader = weaviate_raft_leader(first.http_port, API_KEY)
            node, process = next((n, p) for n, p in running[1:] if n.hostname != leader)
            process.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
            process.wait(30)  # type: ignore[attr-defined]
            time.sleep(2.0)  # the others notice (gossip)
            result["killed"] = node.hostname
            result["queries_one_node_down"] = timed_queries(settings, args.queries)
            rng = random.Random(5)
            for page in rng.sample(pages, max(1, args.pages // 100)):
                site.state.edit(page.id, generated_body(rng, f"edited{page.id}", 1))
            started = time.perf_counter()
            incremental = jobs.sync_source(settings, "bench")
            assert incremental is not None and incremental.status == "finished", incremental
            result["incremental_sync_one_node_down"] = {
                "seconds": round(time.perf_counter() - started, 2),
                "updated": incremental.counts.updated,
                "failed": incremental.counts.failed,
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    os.environ["KNOWHERE_BENCH_CONFLUENCE_TOKEN"] = TOKEN
    with tempfile.TemporaryDirectory() as tmp:
        single = one_setup(args, 1, Path(tmp))
        cluster = one_setup(args, 3, Path(tmp))
    single_sync = single["full_sync"]["pages_per_s"]  # type: ignore[index]
    cluster_sync = cluster["full_sync"]["pages_per_s"]  # type: ignore[index]
    result = {
        "pages": args.pages,
        "model": args.model,
        "single_node": single,
        "cluster": cluster,
        "cluster_sync_vs_single": round(cluster_sync / single_sync, 3),
        "p95_one_down_vs_single_all_up": round(
            cluster["queries_one_node_down"]["p95_ms"]  # type: ignore[index]
            / single["queries_all_up"]["p95_ms"],  # type: ignore[index]
            3,
        ),
        "machine": machine(),
    }
    save("cluster", result)


if __name__ == "__main__":
    main()
