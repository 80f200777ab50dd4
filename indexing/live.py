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

from .embedding import SentenceEmbedder
from .store import ChunkStore

ALIAS_TTL_S = 1.0


@dataclass(frozen=True)
class Generation:
    """One concrete collection of an index and the embedder its vectors come from."""

    store: ChunkStore
    embedder: SentenceEmbedder


class LiveIndex:
    """Resolves an index (alias) to its current generation, re-checking at most every `ttl_s`."""

    def __init__(
        self,
        client: weaviate.WeaviateClient,
        name: str,
        embedder_for: Callable[[str], SentenceEmbedder],
        ttl_s: float = ALIAS_TTL_S,
    ) -> None:
        self.client = client
        self.name = name
        self.embedder_for = embedder_for
        self.ttl_s = ttl_s
        self._alias = ChunkStore(client, name)
        self._generations: dict[str, Generation] = {}
        self._current: tuple[float, Generation] | None = None
        self._lock = threading.Lock()

    def current(self, fresh: bool = False) -> Generation:
        """The generation serving now; `fresh` asks Weaviate instead of a recent answer."""
        with self._lock:
            now = time.monotonic()
            recent = self._current is not None and now - self._current[0] < self.ttl_s
            if recent and not fresh and self._current is not None:
                return self._current[1]
            generation = self.generation(self._alias.target())
            self._current = (now, generation)
            return generation

    def generation(self, collection: str) -> Generation:
        """The generation held by a concrete collection (its model loaded once)."""
        found = self._generations.get(collection)
        if found is None:
            store = ChunkStore(self.client, collection)
            found = Generation(store, self.embedder_for(store.embedder_version()))
            self._generations[collection] = found
        return found

    def forget(self) -> None:
        """Resolve again on the next call (after a switch made by this process)."""
        with self._lock:
            self._current = None
