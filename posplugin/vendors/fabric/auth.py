"""OAuth2 client credentials for fabric: one cached token, refreshed early and once on a 401.

The token is refreshed at ``REFRESH_AT`` of its ``expires_in`` so a call rarely meets an expired one; a 401 makes
the caller ask for a refresh *of the token it sent* (``refresh(stale)``), so concurrent callers that all got a 401
share one new token. A call in flight keeps the token it was sent with: expiry is checked when a call starts,
never by aborting one. The client secret goes only into the Basic header of the token request; it is never
logged and never put into an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .errors import FabricAuthError, FabricBadAnswer, FabricUnreachable, http_error, map_transport, parse_envelope

log = logging.getLogger(__name__)
TOKEN_PATH = "/v1/token"  # noqa: S105 (a path, not a secret)
REFRESH_AT = 0.8  # of expires_in
MIN_LIFETIME = 1.0  # seconds; a token said to last less is still used, but refreshed on every call
DEFAULT_LIFETIME = 600.0  # fabric's documented default, when an answer omits expires_in


@dataclass(frozen=True)
class Token:
    value: str
    obtained_at: float
    expires_in: float

    def fresh(self, now: float) -> bool:
        return now < self.obtained_at + max(self.expires_in, MIN_LIFETIME) * REFRESH_AT


class TokenProvider:
    """Gets and caches the client-credentials token. ``secret`` is read on every token request (rotation)."""

    def __init__(
        self,
        authorization_url: str,
        client_id: str,
        secret: Callable[[], str | None],
        *,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.authorization_url = authorization_url.rstrip("/")
        self.client_id = client_id
        self._secret = secret
        self._http = http
        self._clock = clock
        self._timeout = timeout or httpx.Timeout(5.0)
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # token requests made (health and tests)

    def forget(self) -> None:
        """Drop the cached token (new credentials)."""
        self._token = None

    async def token(self) -> str:
        current = self._token
        if current is not None and current.fresh(self._clock()):
            return current.value
        async with self._lock:
            current = self._token
            if current is not None and current.fresh(self._clock()):
                return current.value  # another caller refreshed while we waited
            self._token = await self._fetch()
            return self._token.value

    async def refresh(self, stale: str) -> str:
        """A new token after ``stale`` was refused; callers refused with the same token share one fetch."""
        async with self._lock:
            current = self._token
            if current is not None and current.value != stale:
                return current.value
            self._token = None
            self._token = await self._fetch()
            return self._token.value

    async def _fetch(self) -> Token:
        secret = self._secret()
        if not self.client_id or not secret:
            raise FabricAuthError(401, "missingCredentials", "fabric client id or client secret not set")
        basic = base64.b64encode(f"{self.client_id}:{secret}".encode()).decode()
        started = self._clock()
        self.fetches += 1
        try:
            response = await self._http.post(
                self.authorization_url + TOKEN_PATH,
                content=b"grant_type=client_credentials&scope=s2s",
                headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            # Whatever became of the token request, the Loyalty call itself was not sent.
            mapped = map_transport(exc, "a token")
            raise FabricUnreachable(str(mapped)) from None
        if response.status_code >= 300:
            envelope = parse_envelope(response.content)
            status = response.status_code
            if status in (400, 401, 403):
                # OAuth answers invalid_client with 400/401: the credentials, not the network.
                raise FabricAuthError(status, "invalidClient", "fabric refused the client credentials")
            raise http_error(status, envelope) from None
        try:
            body = response.json()
        except ValueError:
            raise FabricBadAnswer("token answer is not JSON") from None
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise FabricBadAnswer("token answer has no access_token")
        lifetime = body.get("expires_in", DEFAULT_LIFETIME)
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME
        log.info("fabric token obtained, valid %.0f s", float(lifetime))
        return Token(value, started, float(min(lifetime, 86400.0)))
