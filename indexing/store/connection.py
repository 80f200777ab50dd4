"""How to reach Weaviate: an external server by URL (and API key), or the local one."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import weaviate
from pydantic import SecretStr
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.exceptions import WeaviateBaseError

from ..errors import ServiceUnavailable


@dataclass(frozen=True)
class WeaviateEndpoint:
    """An external Weaviate (`url`, optional gRPC URL and API key) or the local one's ports
    (and its generated API key)."""

    url: str | None = None
    grpc_url: str | None = None
    api_key: SecretStr | None = None
    http_port: int = 8079
    grpc_port: int = 50059

    @property
    def display(self) -> str:
        return self.url or f"http://127.0.0.1:{self.http_port}"

    def unavailable(self) -> ServiceUnavailable:
        hint = (
            "Check the URL and API key (KNOWHERE_WEAVIATE_URL, KNOWHERE_WEAVIATE_API_KEY)."
            if self.url
            else "Start the local one with `knowhere services up`."
        )
        return ServiceUnavailable("Weaviate", self.display, hint)


def connect(endpoint: WeaviateEndpoint) -> weaviate.WeaviateClient:
    """Connect to Weaviate; a clear error names the URL if it is down (never the API key)."""
    timeout = AdditionalConfig(timeout=Timeout(init=5, query=60, insert=180))
    try:
        if endpoint.url:
            http = urlparse(endpoint.url)
            grpc = urlparse(endpoint.grpc_url or "")
            secure = http.scheme == "https"
            key = endpoint.api_key
            return weaviate.connect_to_custom(
                http_host=http.hostname or "localhost",
                http_port=http.port or (443 if secure else 80),
                http_secure=secure,
                grpc_host=grpc.hostname or http.hostname or "localhost",
                grpc_port=grpc.port or 50051,
                grpc_secure=(grpc.scheme == "https") if grpc.scheme else secure,
                auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
                additional_config=timeout,
            )
        key = endpoint.api_key
        return weaviate.connect_to_local(
            host="127.0.0.1",
            port=endpoint.http_port,
            grpc_port=endpoint.grpc_port,
            auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
            additional_config=timeout,
        )
    except WeaviateBaseError as err:
        raise endpoint.unavailable() from err
