"""Does crawling through Confluence cost retrieval quality? A manual benchmark as a space.

The passages of a benchmark (benchmarks/manuals/build.py) become a Confluence space served by
the tests' stand-in: each manual page becomes a section page ("This section collects N
pages." and a children macro) with content pages below it of up to four passages, one `<h2>`
section each (the heading above the passage, never the question), fenced code as code
macros, a table-of-contents macro on top, every fifth page an info panel, every seventh an
attached text file of release notes. `knowhere sources sync` crawls it into a collection.

Both indexes are scored per page, on the benchmark's test questions: a question's relevant
pages are those holding one of its relevant passages. Clean: the same passages indexed as
plain documents (the benchmark's own collection), each hit mapped to its page. Crawled: the
synced space, each hit's page as Confluence gives it. Target: crawled within 0.02 nDCG@10.

    knowhere services up
    python benchmarks/confluence_quality.py [--dataset python-faq] [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import uuid
from pathlib import Path

from common import machine, save

from indexing import Settings, compose, jobs
from indexing.evaluation.beir import BeirDataset, load_beir
from indexing.evaluation.metrics import score_run
from indexing.evaluation.run import eval_collection_name
from indexing.ingest.chunking import FENCE, blocks

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from standins.confluence_standin import EMAIL, TOKEN, ConfluenceStandIn  # noqa: E402

SECTIONS_PER_PAGE = 4
RELEASE_NOTES = (
    "Release notes\n\nThis release updates the translations, fixes typos in the examples "
    "and refreshes the build scripts. No behaviour changed."
)


def storage(markdown: str) -> str:
    """A passage's Markdown as Confluence storage format: code macros and paragraphs."""
    parts = []
    for block in blocks(markdown):
        lines = block.split("\n")
        if FENCE.match(lines[0]):
            code = "\n".join(lines[1:-1] if FENCE.match(lines[-1]) else lines[1:])
            parts.append(
                '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA['
                + code.replace("]]>", "]] >")
                + "]]></ac:plain-text-body></ac:structured-macro>"
            )
        else:
            parts.append(f"<p>{html.escape(block)}</p>")
    return "".join(parts)


def build_space(site: ConfluenceStandIn, dataset: BeirDataset, key: str) -> dict[str, str]:
    """The dataset as a space; returns passage id -> the id of the page holding it."""
    state = site.state
    state.add_space(key, f"{dataset.name} manual", anonymous=True)
    by_page: dict[str, list] = {}
    for document in dataset.corpus:
        source_page = str(document.metadata["path"]).split("#", 1)[0]
        by_page.setdefault(source_page, []).append(document)
    page_of: dict[str, str] = {}
    number = 0
    for source_page, documents in by_page.items():
        title = str(documents[0].metadata["title"]).split(" > ")[0]
        groups = [
            documents[i : i + SECTIONS_PER_PAGE]
            for i in range(0, len(documents), SECTIONS_PER_PAGE)
        ]
        section = state.add_page(
            key,
            f"{title} [{source_page}]",
            f"<p>This section collects {len(groups)} pages.</p>"
            '<ac:structured-macro ac:name="children"/>',
        )
        for part, group in enumerate(groups, start=1):
            number += 1
            body = ['<ac:structured-macro ac:name="toc"/>']
            for document in group:
                heading = str(document.metadata["title"]).split(" > ")[-1]
                text = storage(document.text)
                if number % 5 == 0 and text.startswith("<p>"):
                    text = (
                        '<ac:structured-macro ac:name="info"><ac:rich-text-body>'
                        f"{text}</ac:rich-text-body></ac:structured-macro>"
                    )
                body.append(f"<h2>{html.escape(heading)}</h2>{text}")
            attachments = {"release-notes.txt": RELEASE_NOTES.encode()} if number % 7 == 0 else {}
            page = state.add_page(
                key,
                f"{title} [{source_page}] part {part}",
                "".join(body),
                parent=section.id,
                attachments=attachments,
            )
            for document in group:
                page_of[str(document.metadata["path"])] = page.id
    return page_of


def page_qrels(dataset: BeirDataset, page_of: dict[str, str]) -> dict[str, dict[str, int]]:
    return {
        q: {page_of[p]: 1 for p in relevant if p in page_of}
        for q, relevant in dataset.qrels.items()
    }


def first_pages(doc_ids: list[str], to_page, k: int = 10) -> list[str]:
    pages: list[str] = []
    for doc_id in doc_ids:
        page = to_page(doc_id)
        if page and page not in pages:
            pages.append(page)
    return pages[:k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="python-faq")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    base = Settings()
    folder = base.home / "bench" / args.dataset
    dataset = load_beir(folder, args.split)
    os.environ["KNOWHERE_BENCH_CONFLUENCE_TOKEN"] = TOKEN
    with ConfluenceStandIn() as site, tempfile.TemporaryDirectory() as tmp:
        page_of = build_space(site, dataset, "MAN")
        qrels = page_qrels(dataset, page_of)
        sources = Path(tmp) / "sources.yml"
        sources.write_text(
            "sources:\n  manual:\n    type: confluence\n"
            f"    url: {site.url}\n    email: {EMAIL}\n"
            "    token_env: KNOWHERE_BENCH_CONFLUENCE_TOKEN\n    spaces: [MAN]\n"
            "    attachments: true\n"
        )
        settings = base.model_copy(
            update={
                "sources_file": sources,
                "embed_model": args.model,
                "collection": f"Bench_{uuid.uuid4().hex[:8]}",
                "database_url": f"sqlite:///{tmp}/runs.db",
            }
        )
        run = jobs.sync_source(settings, "manual")
        assert run is not None and run.status == "finished", run
        clean_collection = eval_collection_name(dataset.name, args.model)
        jobs.evaluate_dataset(base, folder, args.split, args.model, "vector")  # indexes it
        embedder = compose.build_embedder(settings)
        rankings: dict[str, dict[str, list[str]]] = {"clean": {}, "crawled": {}}
        prefix = f"{dataset.name}:"
        with compose.connect_weaviate(settings) as client:
            crawled = compose.build_retriever(client, settings, embedder)
            clean = compose.build_retriever(client, base, embedder, clean_collection)
            for qid in qrels:
                question = dataset.queries[qid]
                hits = clean.search(question, top_k=30).hits
                rankings["clean"][qid] = first_pages(
                    [h.doc_id for h in hits], lambda d: page_of.get(d.removeprefix(prefix))
                )
                hits = crawled.search(question, top_k=30).hits
                rankings["crawled"][qid] = first_pages(
                    [h.doc_id for h in hits], lambda d: d.rsplit("/", 1)[-1]
                )
            client.collections.delete(crawled.store.target())
            client.alias.delete(alias_name=settings.collection)
    scores = {name: score_run(r, qrels) for name, r in rankings.items()}
    report = {
        "dataset": dataset.name,
        "split": args.split,
        "model": args.model,
        "pages": len(site.state.pages),
        "sync": {"embedded": run.counts.embedded, "failed": run.counts.failed},
        "per_page": scores,
        "crawled_minus_clean_ndcg@10": round(
            scores["crawled"]["ndcg@10"] - scores["clean"]["ndcg@10"], 4
        ),
        "machine": machine(),
    }
    save(f"confluence_quality_{dataset.name}", report)


if __name__ == "__main__":
    main()
