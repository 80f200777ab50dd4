"""Access control, measured: leaks over many random cases, and what the filter costs.

1. Leaks. Random Confluence worlds (`tests/standins/permission_worlds.py`: users, some known by
   account id only, groups, space permissions, nested restrictions) are served by the
   Confluence stand-in and synced for real with the directory; then `--cases` random
   audiences ask through the answer, not-found, follow-up and share paths and the Teams
   rendering. Counted: pages shown to an audience Confluence's rule denies (target 0), and
   restricted pages rightly shown (the rule is not vacuous).
2. Cost. A collection of `--chunks` synthetic chunks (random vectors and words; 40 % with one
   to three access clauses over 2,000 users and 200 groups, `--lists` distinct access lists)
   is queried hybrid with no access filter, with the public-only filter and with the filter
   of a 50-member channel (each member: e-mail, account id, 3-8 groups), the time to work
   out which lists the channel may read included. Reported: p50/p95 per case and the
   50-member filter's p95 minus the unfiltered p95 (target ≤ 10 ms).

    knowhere services up
    python benchmarks/access_control.py [--cases 3000] [--chunks 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from common import machine, save

from indexing import (
    PUBLIC,
    Access,
    Audience,
    Chunk,
    ChunkStore,
    Clause,
    Principal,
    Settings,
    Turn,
    audience_filter,
    compose,
    jobs,
    readable_by,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from standins.confluence_standin import EMAIL, TOKEN, ConfluenceStandIn  # noqa: E402
from standins.permission_worlds import TOPICS, audit, generate_world  # noqa: E402

VOCABULARY = [f"w{i}" for i in range(5000)]
DIMENSION = 384


def leaks(cases: int, model: str) -> dict[str, object]:
    os.environ["KNOWHERE_BENCH_CONFLUENCE_TOKEN"] = TOKEN
    seeds = (101, 202, 303, 404, 505)
    with ConfluenceStandIn() as site, tempfile.TemporaryDirectory() as tmp:
        worlds = {seed: generate_world(site.state, seed) for seed in seeds}
        keys = ", ".join(key for w in worlds.values() for key in w.spaces)
        sources = Path(tmp) / "sources.yml"
        sources.write_text(
            f"sources:\n  proof:\n    type: confluence\n    url: {site.url}\n"
            f"    email: {EMAIL}\n    token_env: KNOWHERE_BENCH_CONFLUENCE_TOKEN\n"
            f"    spaces: [{keys}]\n"
        )
        settings = Settings(
            sources_file=sources,
            embed_model=model,
            collection=f"Bench_Acl_{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite:///{tmp}/proof.db",
            min_relevance=0.2,
        )
        run = jobs.sync_source(settings, "proof")
        assert run is not None and run.status == "finished", run
        jobs.sync_directory(settings, "proof")
        directory = compose.directory(settings)
        rng = random.Random(7)
        counts = {"cases": 0, "leaks": 0, "restricted_rightly_shown": 0}
        started = time.perf_counter()
        with compose.connect_weaviate(settings) as client:
            service = compose.build_answer_service(client, settings)
            store = ChunkStore(client, settings.collection)

            def check(world, members, answer) -> None:
                leaked, rightly = audit(world, members, answer)
                counts["cases"] += 1
                counts["leaks"] += len(leaked)
                counts["restricted_rightly_shown"] += rightly

            for _ in range(cases):
                seed = rng.choice(seeds)
                world = worlds[seed]
                people = rng.sample(range(9), rng.randint(1, 4))
                members = [world.users[i] if i < 8 else None for i in people]
                emails = [m.email if m else f"stranger@{seed}.example" for m in members]
                audience = Audience.of([directory.principal(e) for e in emails])
                path = rng.choice(["answer", "not found", "follow-up", "share"])
                question = (
                    "zqxj vlorp wumbat?"
                    if path == "not found"
                    else f"What is the {rng.choice(TOPICS)} policy?"
                )
                answer = service.ask(question, audience)
                check(world, members, answer)
                if path == "follow-up":
                    history = [Turn("user", question), Turn("assistant", answer.text)]
                    check(world, members, service.ask("and who do I ask?", audience, history))
                if path == "share":
                    channel = rng.sample(range(9), rng.randint(1, 5))
                    in_channel = [world.users[i] if i < 8 else None for i in channel]
                    their = [m.email if m else f"stranger@{seed}.example" for m in in_channel]
                    everyone = Audience.of([directory.principal(e) for e in their])
                    given = [*answer.retrieved, *(c.chunk_id for c in answer.citations)]
                    if readable_by(store, list(dict.fromkeys(given)), everyone):
                        check(world, in_channel, answer)
            client.alias.delete(alias_name=settings.collection)
            for name in client.collections.list_all(simple=True):
                if name.startswith(f"{settings.collection}_"):
                    client.collections.delete(name)
        directory.close()
    return {**counts, "seconds": round(time.perf_counter() - started, 1), "worlds": len(seeds)}


def random_access(rng: random.Random) -> Access:
    clauses = []
    for _ in range(rng.randint(1, 3)):
        users = [f"user{rng.randrange(2000)}@corp.example" for _ in range(rng.randint(0, 3))]
        groups = [f"group{rng.randrange(200)}" for _ in range(rng.randint(1, 3))]
        clauses.append(Clause.of(users, groups))
    return Access(tuple(clauses))


def fill(store: ChunkStore, n: int, lists: int) -> None:
    rng = random.Random(3)
    # An index holds few distinct access lists: a space's permission, its pages' chains.
    restricted = [random_access(rng) for _ in range(lists)]
    vectors = np.random.default_rng(3).normal(size=(n, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    batch: list[Chunk] = []
    for i in range(n):
        batch.append(
            Chunk(
                id=str(uuid.UUID(int=i + 1)),
                doc_id=f"synthetic:{i}",
                text=" ".join(rng.choice(VOCABULARY) for _ in range(60)),
                vector=vectors[i].tolist(),
                title=f"Page {i}",
                source="synthetic",
                access=PUBLIC if rng.random() < 0.6 else rng.choice(restricted),
            )
        )
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    if batch:
        store.upsert(batch)


def channel(rng: random.Random, members: int = 50) -> Audience:
    """50 people; all in `group0` (like `staff`), each in a few other groups."""
    return Audience.of(
        Principal.of(
            f"user{rng.randrange(2000)}@corp.example",
            ["group0", *(f"group{rng.randrange(200)}" for _ in range(rng.randint(3, 8)))],
            [f"acc-{rng.randrange(10**6)}"],
        )
        for _ in range(members)
    )


def cost(chunks: int, queries: int, lists: int) -> dict[str, object]:
    settings = Settings()
    rng = random.Random(5)
    catalog = compose.access_catalog(settings)
    with compose.connect_weaviate(settings) as client:
        store = ChunkStore(
            client, f"Bench_Access_Filter_{lists}", compose.open_access_lists(settings)
        )
        store.ensure("synthetic-384", DIMENSION)
        started = time.perf_counter()
        if store.count() < chunks:
            fill(store, chunks, lists)
        fill_seconds = time.perf_counter() - started
        query_vectors = np.random.default_rng(9).normal(size=(queries, DIMENSION))
        query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
        texts = [" ".join(rng.choice(VOCABULARY) for _ in range(6)) for _ in range(queries)]
        audiences = [channel(rng) for _ in range(queries)]
        filters = {
            "no_filter": lambda i: None,
            "public_only": lambda i: audience_filter(Audience()),
            "channel_of_50": lambda i: audience_filter(
                audiences[i], catalog.readable(audiences[i])
            ),
        }
        for i in range(20):  # warm-up; the catalog of access lists is loaded here
            store.query(texts[i], query_vectors[i].tolist(), 5, alpha=0.8)
        catalog.readable(Audience())
        timings: dict[str, list[float]] = {name: [] for name in filters}
        found: dict[str, int] = {name: 0 for name in filters}
        readable = 0
        for i in range(queries):
            for name, make in filters.items():
                t0 = time.perf_counter()
                chosen = make(i)  # the lists the channel may read are worked out in here
                vector = query_vectors[i].tolist()
                hits = store.query(texts[i], vector, 5, alpha=0.8, filters=chosen)
                timings[name].append((time.perf_counter() - t0) * 1000)
                found[name] += len(hits)
            readable += len(catalog.readable(audiences[i]))
        count = store.count()

    def pct(values: list[float], p: float) -> float:
        return round(float(np.percentile(values, p)), 2)

    cases = {
        name: {"p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "hits_per_query": found[name] / queries}
        for name, v in timings.items()
    }
    added = pct(timings["channel_of_50"], 95) - pct(timings["no_filter"], 95)
    return {
        "chunks": count,
        "distinct_access_lists": lists,
        "lists_a_channel_may_read_mean": round(readable / queries, 1),
        "queries": queries,
        "fill_seconds": round(fill_seconds, 1),
        "hybrid_query": cases,
        "filter_of_50_members_adds_p95_ms": round(added, 2),
        "target_ms": 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--lists", type=int, default=2000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--only", choices=["leaks", "cost"], help="run one part (default both)")
    args = parser.parse_args()
    result: dict[str, object] = {"machine": machine()}
    if args.only in (None, "leaks"):
        result["leaks"] = leaks(args.cases, args.model)
    if args.only in (None, "cost"):
        result["filter_cost"] = cost(args.chunks, args.queries, args.lists)
    save("access_control" + (f"_{args.only}" if args.only else ""), result)


if __name__ == "__main__":
    main()
