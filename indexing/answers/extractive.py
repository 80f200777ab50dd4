"""The offline default: quote the sentences of the top passages closest to the question.

Passages are Markdown (pages are converted to it): they are read with a Markdown parser, so
a quote is a sentence of prose (never a heading, its markup reduced to its text) or a code
block with its lines; the answer is Markdown again, its prose escaped and its code fenced.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..embedding.embedder import EmbeddedQuery, SentenceEmbedder
from ..store.chunk import Hit
from .generator import NO_ANSWER

SENTENCE_CACHE = 20_000  # sentence vectors kept by the extractive generator


_PARSER = MarkdownIt("commonmark")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`\\])")
# What would be markup in running text (`>` only starts a quote, `&` only an entity).
_MARKUP = re.compile(r"([\\`*_\[\]<#|~]|&(?=#?\w+;))")
_STARTS_BLOCK = re.compile(r"^(\d*[-+=.)](?=\s|$)|>)")  # a list item, an underline, a quote
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Quote:
    """A piece of a passage an answer may quote: a sentence, a code block, or a sentence
    ending in ":" with the code block it introduces."""

    words: str  # what is compared with the question
    sentence: str = ""  # the sentence as Markdown (none for a code block alone)
    code: str = ""  # the code block, fenced


def quotes(text: str) -> list[Quote]:
    """The sentences and code blocks of a passage (Markdown): headings are no sentences,
    inline markup is reduced to its text (a link to its label), a code block keeps its
    lines and stays whole."""
    found: list[Quote] = []
    in_heading = False
    for token in _PARSER.parse(text):
        if token.type in ("heading_open", "heading_close"):
            in_heading = token.type == "heading_open"
        elif token.type in ("fence", "code_block"):
            code = token.content.rstrip()
            if not code.strip():
                continue
            block = _fenced(code, token.info.split()[0] if token.info.strip() else "")
            last = found[-1] if found else None
            if last is not None and not last.code and last.words.endswith(":"):
                found[-1] = Quote(f"{last.words}\n{code}", last.sentence, block)
            else:
                found.append(Quote(code, code=block))
        elif token.type == "inline" and not in_heading and token.children is not None:
            for sentence in _SENTENCE_END.split(_inline_markdown(token.children)):
                words = _words(sentence)
                if len(words) > 2:
                    found.append(Quote(words, sentence))
    return found


def _inline_markdown(children: list[Token]) -> str:
    """A paragraph's text as Markdown: prose escaped, code spans kept, other markup dropped."""
    parts = []
    for child in children:
        if child.type in ("text", "html_inline", "image"):  # an image: its alt text
            parts.append(_MARKUP.sub(r"\\\1", child.content))
        elif child.type == "code_inline":
            fence = "``" if "`" in child.content else "`"
            parts.append(f"{fence}{child.content}{fence}")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _words(sentence: str) -> str:
    return _UNESCAPE.sub(r"\1", sentence.replace("`", "")).strip()


def _fenced(code: str, language: str) -> str:
    fence = "~~~" if "```" in code else "```"
    return f"{fence}{language}\n{code}\n{fence}"


def _quoted(quote: Quote, number: int) -> str:
    """A quote with its passage's number; a sentence never starts a list or a heading."""
    sentence = _STARTS_BLOCK.sub(lambda m: f"{m[0][:-1]}\\{m[0][-1]}", quote.sentence)
    if not quote.code:
        return f"{sentence} [{number}]"
    if sentence:
        return f"{sentence} [{number}]\n\n{quote.code}"
    return f"{quote.code}\n\n[{number}]"


def compose(picked: list[tuple[int, Quote]]) -> str:
    """Quotes in order, each with its passage's number: sentences run on in one paragraph,
    a code block stands as its own."""
    paragraphs: list[str] = []
    run: list[str] = []
    for number, quote in picked:
        if quote.code:
            if run:
                paragraphs.append(" ".join(run))
                run = []
            paragraphs.append(_quoted(quote, number))
        else:
            run.append(_quoted(quote, number))
    if run:
        paragraphs.append(" ".join(run))
    return "\n\n".join(paragraphs)


class ExtractiveGenerator:
    """Quotes the sentences of the top passages that are closest to the question."""

    name = "extractive"

    def __init__(
        self,
        embedder: SentenceEmbedder,
        max_sentences: int = 3,
        margin: float = 0.1,
        passage_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.margin = margin  # keep sentences scoring within this of the best one
        self.passage_weight = passage_weight
        # Popular passages come back again and again: their sentences are embedded once.
        self._sentences: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._sentences))
            if missing:
                for sentence, vector in zip(
                    missing, np.asarray(self.embedder.embed(missing)), strict=True
                ):
                    self._sentences[sentence] = vector
            for sentence in sentences:
                self._sentences.move_to_end(sentence)
            while len(self._sentences) > SENTENCE_CACHE:
                self._sentences.popitem(last=False)
            return np.stack([self._sentences[s] for s in sentences])

    def generate(
        self, question: str, passages: list[Hit], query: EmbeddedQuery | None = None
    ) -> str:
        candidates = [
            (number, quote)
            for number, hit in enumerate(passages, start=1)
            for quote in quotes(hit.text)
        ]
        if not candidates:
            return NO_ANSWER
        # The question as retrieval embedded it, when that was this model and this text.
        reuse = query is not None and (query.embedder, query.text) == (
            self.embedder.version,
            question,
        )
        asked = np.asarray(query.vector if reuse and query else self.embedder.embed([question])[0])
        sentences = self._sentence_vectors([q.words for _, q in candidates])
        # Sentence-to-question similarity plus the passage's retrieval score (fused hybrid
        # score, best passage = 1): a sentence of a well-ranked passage beats a lookalike.
        retrieval = np.asarray([passages[number - 1].score for number, _ in candidates])
        scores = sentences @ asked + self.passage_weight * retrieval
        top = np.argsort(-scores)[: self.max_sentences]
        best = [i for i in top if scores[i] >= scores[top[0]] - self.margin]
        best_by_passage = sorted(best, key=lambda i: (candidates[i][0], i))
        return compose([candidates[i] for i in best_by_passage])
