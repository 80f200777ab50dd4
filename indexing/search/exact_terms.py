"""Exact terms in a question: error codes, ticket keys, hostnames, option names, quoted text.

People paste identifiers into Slack. A dense model hears "ERR_4242" as noise and hybrid
fusion at a dense-leaning α lets BM25's strong match drown. So the retriever looks each
identifier up in BM25 alone (all its word pieces required) and, when only a few documents
hold it verbatim, puts their chunks first: a term found in one document finds it at rank 1,
while an identifier most pages share (a command every page mentions) changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..store.chunk import Hit

# A quoted or backticked phrase, or a token with a digit, an inner separator or inner caps.
QUOTED = re.compile(r"[\"“`]([^\"”`]{3,80})[\"”`]")
TOKEN = re.compile(r"[\w][\w.\-/:#@+]*[\w]")
IDENTIFIER = re.compile(
    r".*\d.*[A-Za-z].*|.*[A-Za-z].*\d.*|\d{3,}"  # letters and digits, or a long number
    r"|.*\w[._\-/:#@]+\w.*"  # inner separator: git-stash, core.editor, a/b, ERR_42
    r"|.*[a-z][A-Z].*"  # inner capitals: UnboundLocalError, getElementById
)
# Documents holding a term verbatim beyond which it is too common to decide the ranking.
RARE_DOCUMENTS = 3


def exact_terms(query: str) -> list[str]:
    """The quoted phrases and identifier-like tokens of a query, in order, without repeats."""
    terms = [m.group(1).strip() for m in QUOTED.finditer(query)]
    unquoted = QUOTED.sub(" ", query)
    terms += [t for t in TOKEN.findall(unquoted) if IDENTIFIER.fullmatch(t)]
    seen: list[str] = []
    for term in terms:
        if term and term.lower() not in (s.lower() for s in seen):
            seen.append(term)
    return seen


def _holds(hit: Hit, term: str) -> bool:
    wanted = " ".join(term.lower().split())
    return any(wanted in " ".join(f.lower().split()) for f in (hit.text, hit.title, hit.heading))


def rare_holders(term: str, candidates: Sequence[Hit]) -> list[Hit]:
    """The candidates holding `term` verbatim, if they come from few enough documents."""
    holding = [h for h in candidates if _holds(h, term)]
    if not holding or len({h.doc_id for h in holding}) > RARE_DOCUMENTS:
        return []
    return holding


def put_first(first: Sequence[Hit], ranked: Sequence[Hit], limit: int) -> list[Hit]:
    """`first` (in its order), then the rest of `ranked`, without repeating a chunk."""
    out: list[Hit] = []
    seen: set[str] = set()
    for hit in [*first, *ranked]:
        if hit.chunk_id not in seen:
            seen.add(hit.chunk_id)
            out.append(hit)
    return out[:limit]
