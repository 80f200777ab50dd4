"""An HTML manual page as sections (heading path, Markdown body), and a section as passages.

The page's main content is converted to Markdown (markdownify keeps code as fenced blocks),
then split at its headings by LlamaIndex's Markdown parser, which leaves fenced code alone.
A section's body runs to the next heading of any level, so a parent never repeats its
children. Passages are whole sections, cut at paragraphs when longer than `max_words`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bs4 import BeautifulSoup
from llama_index.core import Document
from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter
from markdownify import markdownify


@dataclass(frozen=True)
class Section:
    page: str  # the page's title
    path: tuple[str, ...]  # headings from the page's top section down to this one
    text: str  # Markdown body, without the heading itself

    @property
    def heading(self) -> str:
        return self.path[-1] if self.path else ""


def page_sections(html: str, main: str, headings_from: str | None = None) -> list[Section]:
    """Sections of the element matching CSS selector `main`. `headings_from`: a selector of
    elements that are headings in all but markup (a FAQ's definition-list terms), made h3."""
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    root = soup.select_one(main) or soup.body or soup
    for clutter in root.select("a.headerlink, nav.contents, div.contents, div#footer"):
        clutter.decompose()
    for heading in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        heading.string = heading.get_text(" ", strip=True)
    if headings_from:
        for term in root.select(headings_from):
            term.name = "h3"
    markdown = markdownify(str(root), heading_style="ATX", code_language="").replace("\r", "")
    sections = []
    for node in MarkdownNodeParser().get_nodes_from_documents([Document(text=markdown)]):
        text = node.get_content()
        path = [p for p in str(node.metadata.get("header_path", "")).split("/") if p]
        first, _, rest = text.partition("\n")
        if first.lstrip().startswith("#"):
            path.append(" ".join(first.lstrip("# ").split()))
            text = rest
        sections.append(Section(title, tuple(path), text.strip()))
    return sections


def passages(text: str, max_words: int = 300) -> list[str]:
    """The text whole when it has at most `max_words` words, else cut at paragraphs."""
    if len(text.split()) <= max_words:
        return [text]
    splitter = SentenceSplitter(
        chunk_size=max_words, chunk_overlap=0, paragraph_separator="\n\n", tokenizer=str.split
    )
    return splitter.split_text(text)
