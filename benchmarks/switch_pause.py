"""How long a model switch pauses the index's writers, at 100k chunks, while they keep writing.

A fresh index is filled with `--chunks` chunks (short generated texts, their vectors written
directly: the serving model's vectors do not matter here), plus a folder of 20 pages indexed
the normal way. A copy of the model is registered as a new version and promoted (re-embed
into a new collection, switch the alias) while a writer keeps editing and re-indexing pages of
the folder. Reported: the switch's report (chunks embedded while filling, caught up from the
journal, embedded with the gate closed) and how long writers were paused
(`closed_seconds`). For comparison, in the same run: how long one full comparison of the two
collections takes (`reconcile` with nothing to do), which is what the closed phase cost
before the journal, at the least.

    knowhere services up
    python benchmarks/switch_pause.py [--chunks 100000] [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from common import machine, save

from indexing import EmbedderVersion, Settings, compose, jobs
from indexing.embedding import models
from indexing.ingest.chunking import chunk_id
from indexing.learning.switch import reconcile
from indexing.store.chunk import Chunk

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from standins.confluence_standin import WORDS  # noqa: E402


def fill(settings: Settings, count: int) -> None:
    rng = random.Random(3)
    embedder = compose.build_embedder(settings)
    with compose.connect_weaviate(settings) as client:
        store = compose.open_store(client, settings, embedder)
        batch: list[Chunk] = []
        for n in range(count):
            doc = f"bulk:page/{n // 4}"
            vector = [rng.uniform(-1, 1) for _ in range(embedder.dimension)]
            text = " ".join(rng.choice(WORDS) for _ in range(40))
            batch.append(
                Chunk(
                    chunk_id(doc, n % 4),
                    doc,
                    text,
                    vector,
                    title=f"Page {n // 4}",
                    source="bulk",
                    chunk_index=n % 4,
                    embedder=embedder.version,
                )
            )
            if len(batch) == 1024:
                store.upsert(batch)
                batch = []
        store.upsert(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            embed_model=args.model,
            collection=f"Bench_{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite:///{tmp}/registry.db",
        )
        started = time.perf_counter()
        fill(settings, args.chunks)
        fill_s = time.perf_counter() - started
        live = Path(tmp) / "live"
        live.mkdir()
        for n in range(20):
            (live / f"page{n}.md").write_text(f"# Page {n}\n\nHow to run job {n}.\n")
        jobs.index_folder(settings, live)

        copy = Path(tmp) / "model-copy"
        shutil.copytree(models.resolve(args.model, settings.models_dir), copy)
        twin = compose.load_embedder(settings, "model-copy", str(copy))
        compose.open_registry(settings).add(
            EmbedderVersion(twin.version, "model-copy", str(copy), "candidate")
        )

        stop = threading.Event()
        edits = [0]

        def keep_writing() -> None:
            rng = random.Random(9)
            while not stop.is_set():
                page = live / f"page{rng.randrange(20)}.md"
                page.write_text(page.read_text() + f"\nEdit {edits[0]}.\n")
                jobs.index_folder(settings, live)
                edits[0] += 1
                time.sleep(0.1)  # a steady stream of edits, not a second embedding job

        writer = threading.Thread(target=keep_writing)
        writer.start()
        report = jobs.promote(settings, twin.version)
        stop.set()
        writer.join()

        with compose.connect_weaviate(settings) as client:
            from indexing import ChunkStore

            dst = ChunkStore(client, report.to_collection)
            # Every edit the writer made is in the collection serving now.
            texts: dict[str, str] = {}
            stored = dst.documents(f"live:page{n}.md" for n in range(20))
            for chunk in sorted(stored, key=lambda c: c.chunk_index):  # a page may be 2 chunks
                texts[chunk.doc_id] = texts.get(chunk.doc_id, "") + "\n" + chunk.text
            for n in range(20):
                last = (live / f"page{n}.md").read_text().strip().splitlines()[-1]
                assert last in texts[f"live:page{n}.md"], (n, last)
            # One full comparison of two collections of this size (here the serving one with
            # itself, so nothing is written): what the old closed phase did at the least.
            started = time.perf_counter()
            reconcile(dst, dst, twin)
            full_compare_s = time.perf_counter() - started
            client.alias.delete(alias_name=settings.collection)
            for name in (report.from_collection, report.to_collection):
                client.collections.delete(name)

    result = {
        "chunks": args.chunks + 20,
        "model": args.model,
        "fill_seconds": round(fill_s, 1),
        "switch": report.as_dict(),
        "writer_edits_during_switch": edits[0],
        "writers_paused_seconds": round(report.closed_seconds, 3),
        "one_full_comparison_seconds": round(full_compare_s, 3),
        "pause_vs_full_comparison": round(report.closed_seconds / full_compare_s, 4),
        "machine": machine(),
    }
    save("switch_pause", result)


if __name__ == "__main__":
    main()
