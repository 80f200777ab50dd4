"""Full index vs re-index of an unchanged corpus, and peak RSS of the indexing process.

The zaragoza corpus is written out as one Markdown file per passage; `knowhere index` runs
twice as a child process (as a worker would run it) into a fresh collection.

    knowhere services up
    python benchmarks/index_speed_memory.py [--model all-mpnet-base-v2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import machine, save, zaragoza


def write_corpus(folder: Path) -> int:
    records = zaragoza("corpus")
    for record in records:
        page = f"# {record['title']}\n\n{record['text']}\n"
        (folder / f"{record['_id']}.md").write_text(page)
    return len(records)


def run_index(folder: Path, env: dict[str, str]) -> tuple[dict, float, float]:
    """(report, wall seconds, peak RSS in MiB of the child) for one `knowhere index`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "indexing.cli", "index", str(folder), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over children
    return json.loads(done.stdout), wall, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="all-mpnet-base-v2")
    args = parser.parse_args()
    env = dict(
        os.environ,
        KNOWHERE_EMBED_MODEL=args.model,
        KNOWHERE_COLLECTION=f"Bench_{uuid.uuid4().hex[:8]}",
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "zaragoza_pages"
        folder.mkdir()
        pages = write_corpus(folder)
        full, full_wall, full_rss = run_index(folder, env)
        again, again_wall, _ = run_index(folder, env)
    save(
        "index_speed_memory",
        {
            "model": args.model,
            "pages": pages,
            "machine": machine(),
            "full": {
                "index_seconds": full["seconds"],
                "wall_seconds_incl_startup": round(full_wall, 1),
                "texts_embedded": full["texts_embedded"],
                "peak_rss_mib": round(full_rss),
            },
            "unchanged_reindex": {
                "index_seconds": again["seconds"],
                "wall_seconds_incl_startup": round(again_wall, 1),
                "texts_embedded": again["texts_embedded"],
                "fraction_of_full_index_time": round(again["seconds"] / full["seconds"], 5),
            },
        },
    )


if __name__ == "__main__":
    main()
