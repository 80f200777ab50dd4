"""One exception hierarchy whose messages say what failed and how to fix it."""


class KnowhereError(Exception):
    """Base class for every error Knowhere reports to a user."""


class ConfigError(KnowhereError):
    """A setting is missing or has a value that cannot work."""


class ServiceUnavailable(KnowhereError):
    """A backing service (Weaviate, Redis, an LLM server) cannot be reached."""

    def __init__(self, service: str, url: str, hint: str) -> None:
        self.service = service
        self.url = url
        super().__init__(f"{service} is not reachable at {url}. {hint}")


class ModelError(KnowhereError):
    """An embedding or generation model cannot be found, verified or loaded."""


class StoreError(KnowhereError):
    """Weaviate rejected a write or a query."""


class DatasetError(KnowhereError):
    """An evaluation dataset is missing files or has malformed records."""


class GenerationError(KnowhereError):
    """The answer generator (an LLM server or local model) failed."""


class SourceError(KnowhereError):
    """A source to index (a folder, an export file) cannot be read at all."""


class Busy(KnowhereError):
    """Another run holds the lock this one needs (a sync of the same source, a training run or
    switch of the same index)."""


class SchemaError(KnowhereError):
    """The SQL database's schema is at a revision this version cannot use."""
