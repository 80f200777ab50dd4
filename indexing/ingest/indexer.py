"""Index documents into Weaviate: only new or changed ones are chunked and embedded.

The steps are LlamaIndex `TransformComponent`s in one `IngestionPipeline` (chunk → embed);
the writes are ours, not a LlamaIndex vector store's (see below and PITFALLS.md).

Order of writes keeps every step safe to repeat and never loses the indexed version: new
chunks are written first (deterministic ids overwrite), then stale chunks are deleted, then
the document's hash is recorded. A crash in between means the next run redoes that document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline, run_transformations
from llama_index.core.schema import BaseNode, MetadataMode

from ..access.model import Access
from ..embedding.embedder import SentenceEmbedder
from ..failures import Failure
from ..progress import Progress
from ..store.alias import IndexAlias
from ..store.chunk import Chunk
from ..store.chunk_store import ChunkStore
from ..store.hashes import DocHashStore, Indexed
from ..store.schema import MAX_CLAUSES
from ..store.write_gate import WriteGate
from .chunking import StructuredChunker
from .documents import ACCESS_KEY, access_of, indexed_version


@dataclass
class IndexReport:
    """What one indexing run did."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    access_updated: int = 0  # documents whose access list alone changed (rewritten in place)
    unchanged: int = 0
    deleted: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0
    texts_embedded: int = 0
    seconds: float = 0.0
    skipped: list[Failure] = field(default_factory=list)  # files not read (folder indexing)
    failed: list[Failure] = field(default_factory=list)  # documents that could not be indexed

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "added": self.added,
            "updated": self.updated,
            "access_updated": self.access_updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks_written": self.chunks_written,
            "chunks_removed": self.chunks_removed,
            "texts_embedded": self.texts_embedded,
            "seconds": round(self.seconds, 3),
            "skipped": [f.to_dict() for f in self.skipped],
            "failed": [f.to_dict() for f in self.failed],
        }


def _to_chunk(node: BaseNode, embedder_version: str, indexed: Indexed) -> Chunk:
    meta = node.metadata
    updated = meta.get("updated_at")
    return Chunk(
        id=node.node_id,
        doc_id=str(meta["doc_id"]),
        text=node.get_content(metadata_mode=MetadataMode.NONE),
        vector=list(node.get_embedding()),
        title=str(meta.get("title", "")),
        heading=str(meta.get("heading", "")),
        url=str(meta.get("url", "")),
        source=str(meta.get("source", "")),
        chunk_index=int(meta.get("chunk_index", 0)),
        updated_at=datetime.fromisoformat(updated) if updated else None,
        embedder=embedder_version,
        access=Access.from_dict(meta.get(ACCESS_KEY)),
        meta=str(meta.get("meta", "")),
        content_hash=indexed.content,
        chunking=indexed.chunking,
    )


PRUNE_BATCH = 100  # documents deleted, then forgotten, at a time


@dataclass
class _Pass:
    """One `index` call's state, shared by its batches."""

    known: dict[str, Indexed]
    report: IndexReport
    checkpoint: Callable[[], None]


class Indexer:
    """Chunk → embed (a LlamaIndex IngestionPipeline) → Weaviate, skipping unchanged documents.

    With an alias, every batch is written to the collection serving at that moment and
    embedded by its model, holding a lease on the write gate so an alias switch waits for it.
    """

    def __init__(
        self,
        store: ChunkStore,
        hashes: DocHashStore,
        embedder: SentenceEmbedder,
        chunker: StructuredChunker,
        docs_per_batch: int = 16,
        alias: IndexAlias | None = None,
        write_gate: WriteGate | None = None,
    ) -> None:
        self.store = store
        self.hashes = hashes
        self.embedder = embedder
        self.chunker = chunker
        self.docs_per_batch = docs_per_batch
        self.alias = alias
        self.write_gate = write_gate
        self.overlap = embedder.device != "cpu"

    def pipeline(self, embedder: SentenceEmbedder) -> IngestionPipeline:
        """Chunk → embed with `embedder`. No docstore or vector store inside the pipeline: its
        UPSERTS strategy deletes the old vectors before computing new ones (#22638), and its
        cache ignores model weights (#23002)."""
        return IngestionPipeline(transformations=[self.chunker, embedder], disable_cache=True)

    def _resolve(self, fresh: bool = False) -> tuple[ChunkStore, SentenceEmbedder]:
        if self.alias is None:
            return self.store, self.embedder
        serving = self.alias.current(fresh=fresh)
        return serving.store, serving.embedder

    @contextmanager
    def _target(self) -> Iterator[tuple[ChunkStore, SentenceEmbedder]]:
        """The collection to write now (checked afresh while holding a writer's lease)."""
        with self.write_gate.writing() if self.write_gate else nullcontext():
            yield self._resolve(fresh=True)

    def _wrote(self, doc_ids: Iterable[str]) -> None:
        """Tell a switch that may be journalling which documents were just written (called
        inside `_target`, while the writer's lease is held)."""
        if self.write_gate is not None:
            self.write_gate.record(doc_ids)

    def index(
        self,
        documents: Sequence[Document],
        prune: bool,
        progress: Progress | None = None,
        checkpoint: Callable[[], None] = lambda: None,
        keep: Collection[str] = (),
    ) -> IndexReport:
        """Index `documents`; with `prune`, documents of this source not among them (nor in
        `keep`: ones that could not be read this time) are removed.

        `checkpoint` is called before each write: raising there stops the work between writes
        (a sync batch whose lock was lost)."""
        started = time.perf_counter()
        total = len(documents)
        report = IndexReport(documents=total)
        if prune:
            known = self.hashes.all()
        else:
            known = self.hashes.get_many([d.id_ for d in documents]) if documents else {}
        todo: list[tuple[Document, Indexed]] = []
        access_only: dict[str, Access] = {}
        for document in documents:
            access = access_of(document)
            if len(access.clauses) > MAX_CLAUSES:
                reason = (
                    f"{len(access.clauses)} access clauses (restricted levels), at most "
                    f"{MAX_CLAUSES} can be kept: not indexed"
                )
                report.failed.append(Failure(document.id_, reason))
                continue
            now = indexed_version(document, self.chunker.fingerprint)
            before = known.get(document.id_)
            if before == now:
                report.unchanged += 1
            elif before is not None and (before.content, before.chunking) == (
                now.content,
                now.chunking,
            ):
                access_only[document.id_] = access
            else:
                todo.append((document, now))
        if access_only:
            checkpoint()
            report.access_updated += self.update_access(access_only, known)
        done = report.unchanged + report.access_updated
        if progress:
            progress(done, total)
        batches = [
            todo[start : start + self.docs_per_batch]
            for start in range(0, len(todo), self.docs_per_batch)
        ]
        work = _Pass(known, report, checkpoint)
        self._run_batches(batches, work, _advance(progress, done, total))
        if prune:
            removed, report.deleted = self.prune({d.id_ for d in documents} | set(keep), known)
            report.chunks_removed += removed
        report.seconds = time.perf_counter() - started
        return report

    def update_access(
        self, accesses: dict[str, Access], known: dict[str, Indexed] | None = None
    ) -> int:
        """Rewrite who may read these indexed documents, in place (nothing is embedded).
        Documents not indexed yet are left for their next full indexing. Returns how many
        documents were rewritten."""
        known = self.hashes.get_many(list(accesses)) if known is None else known
        indexed = {doc_id: a for doc_id, a in accesses.items() if doc_id in known}
        if not indexed:
            return 0
        with self._target() as (store, _):
            store.set_access(indexed)
            self._wrote(indexed)
        self.hashes.set_many(
            {
                d: Indexed(known[d].content, a.fingerprint(), known[d].chunking)
                for d, a in indexed.items()
            }
        )
        return len(indexed)

    def prune(self, current: set[str], known: dict[str, Indexed] | None = None) -> tuple[int, int]:
        """Remove the indexed documents of this source that are not in `current`.

        A document's record is dropped only once Weaviate confirmed its chunks are deleted,
        so a failed delete is tried again by the next prune. Returns (chunks removed,
        documents removed).
        """
        known = self.hashes.all() if known is None else known
        gone = sorted(doc_id for doc_id in known if doc_id not in current)
        removed = 0
        for start in range(0, len(gone), PRUNE_BATCH):
            part = gone[start : start + PRUNE_BATCH]
            with self._target() as (store, _):
                removed += store.delete_documents(part)
                self._wrote(part)
            self.hashes.delete(part)
        return removed, len(gone)

    def _run_batches(
        self,
        batches: list[list[tuple[Document, Indexed]]],
        work: _Pass,
        progress: _Advance | None,
    ) -> None:
        """With the model on a GPU, chunk the next batch and write the previous one while this
        one is embedded, so chunking and writing overlap with embedding instead of adding to it.

        On the CPU the embedding already keeps every core busy: threads beside it only slow it
        down (measured: 0.86-0.90 of the pure-embedding rate overlapped, 0.97-1.01 in turn on
        2 cores), so there the steps take turns.
        """
        if not batches:
            return
        if not self.overlap:
            for batch in batches:
                self._index_batch(batch, work)
                if progress:
                    progress(len(batch))
            return
        with (
            ThreadPoolExecutor(1, thread_name_prefix="chunk") as chunking,
            ThreadPoolExecutor(1, thread_name_prefix="write") as writing,
        ):
            ahead = chunking.submit(self._chunk, batches[0])
            written: Future[None] | None = None
            for number, batch in enumerate(batches):
                prepared = ahead.result()
                if number + 1 < len(batches):
                    ahead = chunking.submit(self._chunk, batches[number + 1])
                try:
                    if isinstance(prepared, Exception):
                        raise prepared
                    nodes, embedder = self._embed(prepared)
                except Exception:  # noqa: BLE001 - redo one by one to isolate the bad document
                    if written is not None:
                        written.result()
                        written = None
                    self._index_batch(batch, work)
                else:
                    if written is not None:
                        written.result()  # one write at a time, in order
                    written = writing.submit(self._write, batch, nodes, embedder, work)
                if progress:
                    progress(len(batch))
            if written is not None:
                written.result()

    def _chunk(self, batch: list[tuple[Document, Indexed]]) -> Sequence[BaseNode] | Exception:
        """The pipeline's chunking step alone (run ahead of the embedding on a GPU)."""
        try:
            return run_transformations([d for d, _ in batch], [self.chunker])
        except Exception as err:  # noqa: BLE001 - handed to the embedding step to isolate
            return err

    def _embed(self, nodes: Sequence[BaseNode]) -> tuple[Sequence[BaseNode], SentenceEmbedder]:
        """The pipeline's embedding step alone, with the model serving now."""
        _, embedder = self._resolve()
        return run_transformations(list(nodes), [embedder]), embedder

    def _index_batch(self, batch: list[tuple[Document, Indexed]], work: _Pass) -> None:
        """Chunk, embed and write one batch in this thread, isolating a failing document."""
        try:
            _, embedder = self._resolve()
            nodes = self.pipeline(embedder).run(documents=[d for d, _ in batch])
        except Exception as err:  # noqa: BLE001 - isolate the bad document, keep the good ones
            if len(batch) == 1:
                work.report.failed.append(Failure(batch[0][0].id_, f"{type(err).__name__}: {err}"))
                return
            for item in batch:
                self._index_batch([item], work)
            return
        self._write(batch, nodes, embedder, work)

    def _write(
        self,
        batch: list[tuple[Document, Indexed]],
        nodes: Sequence[BaseNode],
        embedder: SentenceEmbedder,
        work: _Pass,
    ) -> None:
        report = work.report
        work.checkpoint()
        with self._target() as (store, serving):
            if serving is not embedder:  # the index switched models meanwhile
                embedder = serving
                nodes = run_transformations(list(nodes), [embedder])
            report.texts_embedded += len(nodes)
            versions = {d.id_: indexed for d, indexed in batch}
            chunks = [
                _to_chunk(n, embedder.version, versions[str(n.metadata["doc_id"])]) for n in nodes
            ]
            store.upsert(chunks)
            # Chunk ids are positions: what a longer earlier version left beyond them goes.
            # (Asked of every document, not only the ones recorded: the record may be lost.)
            counts = dict.fromkeys(versions, 0)
            for chunk in chunks:
                counts[chunk.doc_id] += 1
            report.chunks_removed += store.delete_beyond(counts)
            self._wrote(versions)
        report.chunks_written += len(chunks)
        self.hashes.set_many(versions)
        changed = sum(1 for doc_id in versions if doc_id in work.known)
        report.updated += changed
        report.added += len(batch) - changed


_Advance = Callable[[int], None]


def _advance(progress: Progress | None, done: int, total: int) -> _Advance | None:
    """Batches report how many documents they finished; `progress` gets the running total."""
    if progress is None:
        return None
    count = [done]

    def advance(finished: int) -> None:
        count[0] += finished
        progress(count[0], total)

    return advance
