"""Confluence sync speed: a full sync of a generated space, an incremental one with 1 % changed.

A space of `--pages` generated pages (headings, paragraphs, code and note macros, labels,
ancestors) is served by the Confluence stand-in of the tests; `knowhere sources sync` runs in
this process (`jobs.sync_source`) into a fresh collection. In the same run, the chunks the
sync embedded are embedded again on their own (same model, same texts, same batch size) to
give the pure-embedding rate: the sync rate as a fraction of it shows how much fetching,
parsing and writing add on top of embedding. Then 1 % of the pages are edited and an
incremental sync runs; its time is compared with the full sync's and its embeddings are
counted against the chunks of the edited pages. Then two more incremental runs: one with
nothing changed (the cost of listing the whole space with its permissions every run, target
≤ 3 % of the full sync) and one after 1 % of the pages got a read restriction without an
edit (their access lists are rewritten in place: nothing fetched, nothing embedded). Last, Redis
loses this index's records and 1 % of the pages are trashed: the next incremental sync rebuilds
the records from the collection (target: 0 pages fetched, 0 chunks embedded, every trashed page
pruned).

    knowhere services up
    python benchmarks/confluence_sync.py [--pages 2000] [--model all-MiniLM-L6-v2]
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

from common import confluence_sources, machine, save

from indexing import ChunkStore, Settings, compose, jobs
from indexing.ingest.chunking import embedding_text
from indexing.sync.runs import Run

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from standins.confluence_standin import (  # noqa: E402
    EMAIL,
    TOKEN,
    ConfluenceStandIn,
    ConfluenceState,
    generate_space,
    generated_body,
)


def timed_sync(settings: Settings, state: ConfluenceState) -> tuple[Run, float, int]:
    """An incremental sync of `bench`: its run, its seconds, and the page bodies it fetched."""
    requests_before = len(state.requests)
    started = time.perf_counter()
    run = jobs.sync_source(settings, "bench")
    seconds = time.perf_counter() - started
    assert run is not None and run.status == "finished", run
    return run, seconds, state.count_since(requests_before, "cql=id+in")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--changed", type=float, default=0.01)
    args = parser.parse_args()
    os.environ["KNOWHERE_BENCH_CONFLUENCE_TOKEN"] = TOKEN
    with ConfluenceStandIn() as site, tempfile.TemporaryDirectory() as tmp:
        pages = generate_space(site.state, "GEN", args.pages)
        sources = confluence_sources(Path(tmp) / "sources.yml", site.url, EMAIL)
        settings = Settings(
            sources_file=sources,
            embed_model=args.model,
            collection=f"Bench_{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite:///{tmp}/runs.db",
        )
        embedder = compose.build_embedder(settings)
        embedder.embed(["warm-up"])

        started = time.perf_counter()
        full = jobs.sync_source(settings, "bench")
        full_s = time.perf_counter() - started
        assert full is not None and full.status == "finished", full

        with compose.connect_weaviate(settings) as client:
            chunks = list(ChunkStore(client, settings.collection).scan())
        texts = [embedding_text(c.title, c.heading, c.text) for c in chunks]
        started = time.perf_counter()
        embedder.embed(texts)
        embed_s = time.perf_counter() - started

        rng = random.Random(11)
        changed = rng.sample(pages, max(1, round(len(pages) * args.changed)))
        for page in changed:
            site.state.edit(page.id, generated_body(rng, f"edited{page.id}", int(page.id) % 5))
        started = time.perf_counter()
        incremental = jobs.sync_source(settings, "bench")
        incremental_s = time.perf_counter() - started
        assert incremental is not None and incremental.status == "finished", incremental

        started = time.perf_counter()
        unchanged = jobs.sync_source(settings, "bench")
        unchanged_s = time.perf_counter() - started
        assert unchanged is not None and unchanged.counts.embedded == 0, unchanged

        restricted = rng.sample(pages, max(1, round(len(pages) * args.changed)))
        for page in restricted:
            page.read_groups = ["auditors"]
        permissions, permissions_s, fetched = timed_sync(settings, site.state)
        # Redis loses what is indexed (a flush, an eviction, a new Redis): this index's records
        # are deleted (not FLUSHALL: the Redis may serve more than this benchmark), and 1 % of
        # the pages are trashed meanwhile. The next incremental sync rebuilds the records from
        # the collection: it should fetch and embed nothing and still prune the trashed pages.
        records = compose.open_redis(settings)
        lost = list(records.scan_iter(match=f"knowhere/{settings.collection}/*"))
        records.delete(*lost)
        trashed = rng.sample(pages, max(1, round(len(pages) * args.changed)))
        for page in trashed:
            page.status = "trashed"
        forgotten, forgotten_s, forgotten_fetched = timed_sync(settings, site.state)

        with compose.connect_weaviate(settings) as client:
            store = ChunkStore(client, settings.collection)
            changed_chunks = store.count({f"bench:page/{p.id}" for p in changed})
            client.collections.delete(store.target())
            client.alias.delete(alias_name=settings.collection)

    sync_rate = full.counts.embedded / full_s
    embed_rate = len(texts) / embed_s
    result = {
        "pages": args.pages,
        "model": args.model,
        "full_sync": {
            "seconds": round(full_s, 2),
            "pages_per_s": round(args.pages / full_s, 1),
            "chunks_embedded": full.counts.embedded,
            "chunks_per_s": round(sync_rate, 1),
            "failed": full.counts.failed,
        },
        "pure_embedding": {
            "chunks": len(texts),
            "seconds": round(embed_s, 2),
            "chunks_per_s": round(embed_rate, 1),
        },
        "sync_rate_vs_pure_embedding": round(sync_rate / embed_rate, 3),
        "incremental_sync": {
            "pages_changed": len(changed),
            "seconds": round(incremental_s, 2),
            "fraction_of_full": round(incremental_s / full_s, 4),
            "updated": incremental.counts.updated,
            "chunks_embedded": incremental.counts.embedded,
            "chunks_of_changed_pages": changed_chunks,
        },
        "incremental_sync_nothing_changed": {
            "seconds": round(unchanged_s, 2),
            "fraction_of_full": round(unchanged_s / full_s, 4),
            "chunks_embedded": unchanged.counts.embedded,
        },
        "incremental_sync_permissions_changed": {
            "pages_restricted": len(restricted),
            "seconds": round(permissions_s, 2),
            "fraction_of_full": round(permissions_s / full_s, 4),
            "updated": permissions.counts.updated,
            "chunks_embedded": permissions.counts.embedded,
            "bodies_fetched": fetched,
        },
        "incremental_sync_after_redis_lost_its_records": {
            "redis_keys_deleted": len(lost),
            "pages_trashed": len(trashed),
            "seconds": round(forgotten_s, 2),
            "fraction_of_full": round(forgotten_s / full_s, 4),
            "chunks_embedded": forgotten.counts.embedded,
            "bodies_fetched": forgotten_fetched,
            "deleted": forgotten.counts.deleted,
        },
        "machine": machine(),
    }
    save("confluence_sync", result)


if __name__ == "__main__":
    main()
