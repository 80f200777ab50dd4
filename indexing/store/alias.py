"""An index name resolved to what serves it now: the concrete collection and its model.

Indexes are Weaviate aliases. A query or a write resolves the alias once and then works on
that concrete collection with the model that filled it, so a switch to a re-embedded
collection never pairs a query vector with vectors from another model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import weaviate

from ..embedding.embedder import SentenceEmbedder
from .access_lists import AccessLists
from .chunk_store import ChunkStore

ALIAS_TTL_S = 1.0


@dataclass(frozen=True)
class ServingCollection:
    """One concrete collection of an index and the embedder its vectors come from."""

    store: ChunkStore
    embedder: SentenceEmbedder


class IndexAlias:
    """Resolves an index (alias) to the collection serving it, re-checking at most every
    `ttl_s`; `embedder_for` gives the (warmed-up) model of an embedder version."""

    def __init__(
        self,
        client: weaviate.WeaviateClient,
        name: str,
        embedder_for: Callable[[str], SentenceEmbedder],
        ttl_s: float = ALIAS_TTL_S,
        access_lists: AccessLists | None = None,
        consistency: str | None = None,
    ) -> None:
        self.client = client
        self.consistency = consistency  # of the stores it opens
        self.name = name
        self.embedder_for = embedder_for
        self.ttl_s = ttl_s
        self.access_lists = access_lists  # given to the stores it opens, for their writes
        self._alias = ChunkStore(client, name)
        self._collections: dict[str, ServingCollection] = {}
        self._current: tuple[float, ServingCollection] | None = None
        self._lock = threading.Lock()

    def current(self, fresh: bool = False) -> ServingCollection:
        """The collection serving now; `fresh` asks Weaviate instead of a recent answer."""
        with self._lock:
            now = time.monotonic()
            recent = self._current is not None and now - self._current[0] < self.ttl_s
            if recent and not fresh and self._current is not None:
                return self._current[1]
            serving = self.collection(self._alias.target())
            self._current = (now, serving)
            return serving

    def collection(self, name: str) -> ServingCollection:
        """The concrete collection `name` and its model (loaded once)."""
        found = self._collections.get(name)
        if found is None:
            store = ChunkStore(self.client, name, self.access_lists, self.consistency)
            found = ServingCollection(store, self.embedder_for(store.embedder_version()))
            self._collections[name] = found
        return found

    def forget(self) -> None:
        """Resolve again on the next call (after a switch made by this process)."""
        with self._lock:
            self._current = None
