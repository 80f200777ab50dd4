"""Where Bot Framework token signing keys come from, when not from Microsoft.

The SDK's JwtTokenValidator fetches keys from Bot Framework's fixed JWKS address. With
`KNOWHERE_TEAMS_OPENID_METADATA_URL` set (a sovereign cloud, a proxy, the tests' local
stand-in), keys are read from the `jwks_uri` that OpenID metadata document names instead.
Validation itself (signature, audience, issuer, expiry) stays the SDK's.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from jwt import PyJWK, PyJWKClient
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator


class OpenIdMetadataKeys:
    """Signing keys from an OpenID metadata document (same interface as the SDK's key cache)."""

    def __init__(self, metadata_url: str) -> None:
        self.metadata_url = metadata_url
        self._client: PyJWKClient | None = None
        self._lock = threading.Lock()

    def _signing_key(self, kid: str) -> PyJWK:
        with self._lock:
            if self._client is None:
                metadata = httpx.get(self.metadata_url, timeout=10).raise_for_status().json()
                self._client = PyJWKClient(metadata["jwks_uri"])
            return self._client.get_signing_key(kid)

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> PyJWK:
        return await asyncio.to_thread(self._signing_key, header["kid"])


def use_openid_metadata(metadata_url: str) -> None:
    JwtTokenValidator._jwk_client_manager = OpenIdMetadataKeys(metadata_url)  # type: ignore[assignment]
