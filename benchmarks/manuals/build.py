"""Build retrieval benchmarks in BEIR layout from software manuals in Debian packages.

    python benchmarks/manuals/build.py [--out DIR]   # default $KNOWHERE_HOME/bench

- `python-faq`: the Python 3.11 documentation (python3.11-doc). Questions are the FAQ's own
  question headings; the corpus is the FAQ's answers among the tutorial's, the HOWTOs' and
  the language reference's sections.
- `git-manual`: Git's documentation (git-doc). Questions are gitfaq's questions, the user
  manual's question headings, and each command's one-line NAME summary asked as
  "How do I …?"; the corpus is every manual page, guide, HOWTO and the user manual.

Passages are whole sections (cut at paragraphs beyond 300 words), titled by the page and
the headings above them. De-leaking: a question's own heading is never part of a passage,
NAME sections (the summaries asked about) are left out, and any other passage that quotes a
question word for word is dropped. Queries are split into dev (40 %) and test by a hash of
their id. The same package bytes always give the same files: the build is deterministic,
and `manifest.json` records the package pins and each file's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from debian_packages import GIT_DOC, PYTHON_DOC, DebianPackage, fetch, read_members  # noqa: E402
from html_sections import Section, page_sections, passages  # noqa: E402

from indexing import Settings  # noqa: E402

QUESTION = re.compile(
    r"^(how|what|why|when|where|which|who|can|could|do|does|is|are|should)\b", re.I
)
DEV_SHARE = 0.4


@dataclass
class Benchmark:
    """A corpus of passages, its questions and which passages answer each."""

    name: str
    package: DebianPackage
    corpus: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> title, text
    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, list[str]] = field(default_factory=dict)
    quoted: dict[str, str] = field(default_factory=dict)  # query id -> text it comes from
    dropped_as_leaks: int = 0

    def add_section(
        self, page_id: str, index: int, section: Section, asked: str | None
    ) -> list[str]:
        """The section's passages, added to the corpus; with `asked`, the section answers that
        question and its heading is left out of the title."""
        if len(section.text.split()) < 8:
            return []
        path = section.path[:-1] if asked else section.path
        title = " > ".join([section.page, *path[1:]]) if path else section.page
        ids = []
        for part, text in enumerate(passages(section.text)):
            passage_id = f"{page_id}#{index}" + (f".{part}" if part else "")
            self.corpus[passage_id] = {"title": title, "text": text}
            ids.append(passage_id)
        return ids

    def ask(self, query_id: str, question: str, answers: list[str], quoted: str = "") -> None:
        """`quoted`: the text the question was made from, when not the question itself."""
        if answers:
            self.queries[query_id] = question
            self.qrels[query_id] = answers
            self.quoted[query_id] = quoted or question

    def deleak(self) -> None:
        """Drop every passage that quotes a question (or what it was made from) word for word
        and answers none."""
        answering = {p for ids in self.qrels.values() for p in ids}
        quoted = [_normal(q).rstrip("?.") for q in self.quoted.values()]
        for passage_id, passage in list(self.corpus.items()):
            text = _normal(passage["text"])
            if passage_id not in answering and any(q in text for q in quoted if len(q) > 20):
                del self.corpus[passage_id]
                self.dropped_as_leaks += 1
        for query_id, ids in self.qrels.items():
            self.qrels[query_id] = [p for p in ids if p in self.corpus]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[`*_]", "", text).lower().split())


def _pages(members: dict[str, bytes], pattern: str) -> Iterable[tuple[str, str]]:
    wanted = re.compile(pattern)
    for path in sorted(members):
        if wanted.fullmatch(path):
            yield path, members[path].decode("utf-8", errors="replace")


def _page_id(path: str) -> str:
    return path.removesuffix(".html").replace("/", "-")


# The FAQ's neighbours: the tutorial, HOWTOs, language reference, usage and extending guides,
# and the library pages a FAQ reader lands on most (built-ins, types, os, sys, re, …).
DISTRACTORS = (
    r"(tutorial|howto|reference|using|extending)/(?!index)[\w-]+\.html"
    r"|library/(functions|stdtypes|exceptions|constants|os|sys|re|string|io|subprocess"
    r"|threading|pickle|ctypes|datetime|random|collections|itertools|functools)\.html"
)


def build_python(members: dict[str, bytes]) -> Benchmark:
    bench = Benchmark("python-faq", PYTHON_DOC)
    main = "div[role=main]"
    for path, html in _pages(members, DISTRACTORS):
        for index, section in enumerate(page_sections(html, main)):
            bench.add_section(_page_id(path), index, section, None)
    for path, html in _pages(members, r"faq/(?!index)[\w-]+\.html"):
        page_id = _page_id(path)
        for index, section in enumerate(page_sections(html, main)):
            question = section.heading if len(section.path) >= 3 else ""
            asked = question if question.endswith("?") else None
            answers = bench.add_section(page_id, index, section, asked)
            if asked:
                bench.ask(f"{page_id}#{index}", asked, answers)
    return bench


def _command_question(summary: str) -> str:
    summary = summary.strip().rstrip(".")
    return f"How do I {summary[:1].lower()}{summary[1:]}?"


def build_git(members: dict[str, bytes]) -> Benchmark:
    bench = Benchmark("git-manual", GIT_DOC)
    main = "body"
    for path, html in _pages(members, r"(howto/)?[\w-]+\.html"):
        page_id = _page_id(path)
        faq = path == "gitfaq.html"
        sections = page_sections(html, main, "dt.hdlist1" if faq else None)
        summary = " ".join(next((s.text for s in sections if s.heading == "NAME"), "").split())
        for index, section in enumerate(sections):
            if section.heading == "NAME":
                continue
            question = section.heading
            asked = question if (faq and question.endswith("?")) else None
            if path == "user-manual.html" and QUESTION.match(question):
                asked = question
            answers = bench.add_section(page_id, index, section, asked)
            if asked:
                bench.ask(f"{page_id}#{index}", asked, answers)
            elif section.heading == "DESCRIPTION" and " - " in summary:
                command, _, what = summary.partition(" - ")
                if command.strip().startswith("git-"):
                    bench.ask(f"{page_id}#name", _command_question(what), answers, what)
    return bench


BUILDERS: dict[str, tuple[DebianPackage, str, Callable[[dict[str, bytes]], Benchmark]]] = {
    "python-faq": (PYTHON_DOC, "usr/share/doc/python3.11/html/", build_python),
    "git-manual": (GIT_DOC, "usr/share/doc/git-doc/", build_git),
}


def _split(query_id: str) -> str:
    bucket = int(hashlib.sha256(query_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < DEV_SHARE else "test"


def write(bench: Benchmark, folder: Path) -> dict[str, object]:
    """The benchmark as BEIR files in `folder`, and a manifest of what they were built from."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    files = {
        "corpus.jsonl": "".join(
            json.dumps({"_id": i, "title": p["title"], "text": p["text"]}, ensure_ascii=False)
            + "\n"
            for i, p in bench.corpus.items()
        ),
        "queries.jsonl": "".join(
            json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n"
            for q, t in bench.queries.items()
        ),
    }
    for split in ("dev", "test"):
        rows = ["query-id\tcorpus-id\tscore\n"]
        for query_id, ids in bench.qrels.items():
            if _split(query_id) == split:
                rows.extend(f"{query_id}\t{p}\t1\n" for p in ids)
        files[f"qrels/{split}.tsv"] = "".join(rows)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    manifest = {
        "name": bench.name,
        "package": {
            "name": bench.package.name,
            "version": bench.package.version,
            "url": bench.package.url,
            "sha256": bench.package.sha256,
        },
        "passages": len(bench.corpus),
        "queries": {s: sum(_split(q) == s for q in bench.qrels) for s in ("dev", "test")},
        "dropped_as_leaks": bench.dropped_as_leaks,
        "files_sha256": {n: hashlib.sha256(c.encode()).hexdigest() for n, c in files.items()},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def build(out: Path, cache: Path, names: Iterable[str] = BUILDERS) -> dict[str, Path]:
    folders = {}
    for name in names:
        package, prefix, builder = BUILDERS[name]
        bench = builder(read_members(fetch(package, cache), prefix))
        bench.deleak()
        manifest = write(bench, out / name)
        print(json.dumps(manifest, indent=2))
        folders[name] = out / name
    return folders


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=settings.home / "bench")
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args()
    build(args.out, settings.home / "debs", args.only or BUILDERS)


if __name__ == "__main__":
    main()
