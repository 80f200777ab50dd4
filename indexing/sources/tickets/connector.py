"""Ticket export files as an export connector: every file read once per run, one document
(and, when resolved, one (question, resolution) pair) per ticket; a later export wins."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...access.model import Access
from ...failures import Failure
from ...ingest.documents import ACCESS_KEY
from ..interfaces import Export
from .documents import ticket_document, ticket_pair
from .formats import Reader
from .people import People


class TicketConnector:
    """The export `files` of source `source`, read with `reader` (one of `formats.READERS`);
    every ticket is readable as `access` (the source's `access:`)."""

    def __init__(
        self,
        source: str,
        files: list[Path],
        reader: Reader,
        options: Mapping[str, Any],
        people: People,
        access: Access,
    ) -> None:
        self.access = access  # who may read every ticket of this source
        self.source = source
        self.files = files
        self.reader = reader
        self.options = options
        self.people = people

    def close(self) -> None:
        pass

    def read(self) -> Export:
        export = Export(documents=[])
        documents = {}
        for path in self.files:
            try:
                results = list(self.reader(path, self.options))
            except (OSError, UnicodeDecodeError) as err:
                export.failures.append(Failure(path.name, f"cannot read the file: {err}"))
                export.complete = False
                continue
            for result in results:
                if isinstance(result, Failure):
                    # A file truncated or written to while read says nothing of what it no
                    # longer lists: whatever failed in it, nothing is pruned this run.
                    export.failures.append(result)
                    export.complete = False
                    continue
                document = ticket_document(result, self.source, self.people)
                document.metadata[ACCESS_KEY] = self.access.to_dict()
                documents[document.id_] = document
                pair = ticket_pair(result, self.source, self.people)
                if pair is not None:
                    export.pairs[document.id_] = pair
                else:
                    export.pairs.pop(document.id_, None)
        export.documents = list(documents.values())
        return export
