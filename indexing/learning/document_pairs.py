"""Training pairs from the documents themselves: the cold start, before anyone has voted.

- A chunk under a specific heading (or a page with a specific title) gives (heading, section
  text): headings and titles say what a section answers. A heading shared by more than
  `SPECIFIC_AT_MOST` documents ("Overview", a category name) says nothing specific and is
  not used.
- A chunk without one gives an inverse-cloze pair (Lee et al., 2019): its first sentence
  asks, the rest of the chunk answers.

Passages are the chunks' own text, without the title and heading that would repeat the
question. Pairs are sampled (seeded) up to a limit; hard negatives are mined for them like for
feedback (`training_set.build`), and the gate judges the result like any candidate.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

from ..ingest.chunking import HEADING_SEPARATOR
from ..store.chunk import Chunk
from .training_set import LabelledPair, normalise

SPECIFIC_AT_MOST = 2
MIN_QUERY_WORDS = 3
MIN_CLOZE_QUERY_WORDS = 5
MIN_PASSAGE_WORDS = 15


def _asks(chunk: Chunk) -> str:
    """The heading's last part, else the title: what this chunk is about."""
    if chunk.heading.strip():
        return chunk.heading.split(HEADING_SEPARATOR)[-1].strip()
    return chunk.title.strip()


def document_pairs(chunks: Iterable[Chunk], limit: int, seed: int = 7) -> list[LabelledPair]:
    """Up to `limit` (question, passage) positives from `chunks`."""
    chunks = list(chunks)
    documents: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks:
        documents[normalise(_asks(chunk))].add(chunk.doc_id)
    sentences = split_by_sentence_tokenizer()
    pairs = []
    for chunk in chunks:
        asks = _asks(chunk)
        if (
            len(asks.split()) >= MIN_QUERY_WORDS
            and len(documents[normalise(asks)]) <= SPECIFIC_AT_MOST
            and len(chunk.text.split()) >= MIN_PASSAGE_WORDS
        ):
            pairs.append(LabelledPair(asks, chunk.text, chunk.id, 1, "document"))
            continue
        parts = sentences(chunk.text)
        first, rest = (parts[0].strip(), "".join(parts[1:]).strip()) if parts else ("", "")
        if len(first.split()) >= MIN_CLOZE_QUERY_WORDS and len(rest.split()) >= MIN_PASSAGE_WORDS:
            pairs.append(LabelledPair(first, rest, chunk.id, 1, "document"))
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]
