"""fabric failures, mapped once at the client boundary onto the neutral loyalty errors.

Every fabric answer is an envelope ``{status, message, errors, data}``; the inner shape of ``errors`` is not
documented, so the HTTP status is read first, then the envelope's ``status``, and ``message`` plus the ``errors``
keys are kept as the detail and the code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ...loyalty.errors import (
    LoyaltyAuthError,
    LoyaltyBadAnswer,
    LoyaltyCongested,
    LoyaltyHTTPError,
    LoyaltyNoAnswer,
    LoyaltyRateLimited,
    LoyaltyServerError,
    LoyaltyUnreachable,
)

# [assumed] What a duplicate earn answers (fabric documents the check, not its answer): an error key or a message
# naming a duplicate. The simulator answers exactly this; a real tenant's spelling is corrected here.
DUPLICATE_EARN_STATUS = 409
DUPLICATE_EARN_CODE = "duplicateTransaction"
# [assumed] How fabric names too few points for a reward.
INSUFFICIENT_POINTS_CODE = "insufficientPoints"
MAX_DETAIL = 200


class FabricUnreachable(LoyaltyUnreachable):
    pass


class FabricCongested(LoyaltyCongested):
    pass


class FabricNoAnswer(LoyaltyNoAnswer):
    pass


class FabricBadAnswer(LoyaltyBadAnswer):
    pass


class FabricHTTPError(LoyaltyHTTPError):
    """fabric refused; ``code`` is the first of the envelope's ``errors`` keys, ``error_keys`` all of them."""

    error_keys: tuple[str, ...] = ()

    @property
    def is_duplicate(self) -> bool:
        return DUPLICATE_EARN_CODE in self.error_keys or "duplicate" in self.detail.lower()

    @property
    def is_insufficient_points(self) -> bool:
        return INSUFFICIENT_POINTS_CODE in self.error_keys or "insufficient" in self.detail.lower()


class FabricServerError(FabricHTTPError, LoyaltyServerError):
    pass


class FabricAuthError(FabricHTTPError, LoyaltyAuthError):
    pass


class FabricRateLimited(FabricHTTPError, LoyaltyRateLimited):
    def __init__(self, status: int, code: str | None, detail: str, retry_after: float | None) -> None:
        LoyaltyRateLimited.__init__(self, status, code, detail, retry_after)


@dataclass(frozen=True)
class Envelope:
    status: int | None
    message: str
    error_keys: tuple[str, ...]
    data: Any


def parse_envelope(body: bytes) -> Envelope | None:
    """The envelope of a body, or None when the body is not one (not JSON, not an object, neither key)."""
    try:
        parsed: Any = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    if not isinstance(parsed, Mapping) or not ({"status", "data", "message", "errors"} & set(parsed)):
        return None
    status = parsed.get("status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        status = None
    message = parsed.get("message")
    errors = parsed.get("errors")
    keys = tuple(str(k) for k in errors) if isinstance(errors, Mapping) else ()
    return Envelope(status, (message if isinstance(message, str) else "")[:MAX_DETAIL], keys, parsed.get("data"))


def http_error(status: int, envelope: Envelope | None, retry_after: float | None = None) -> FabricHTTPError:
    """The error for an HTTP (or envelope) error status."""
    keys = envelope.error_keys if envelope else ()
    code = keys[0] if keys else None
    detail = envelope.message if envelope else "non-JSON error page"
    error: FabricHTTPError
    if status == 429:
        error = FabricRateLimited(status, code or "tooManyRequests", detail, retry_after)
    elif status in (401, 403):
        error = FabricAuthError(status, code, detail)
    elif status >= 500:
        error = FabricServerError(status, code, detail)
    else:
        error = FabricHTTPError(status, code, detail)
    error.error_keys = keys
    return error


def raise_for_answer(status: int, body: bytes, retry_after: float | None = None) -> Any:
    """``data`` of a successful answer; otherwise the mapped error. A 3xx or an answer that is not the envelope
    was not fabric saying yes."""
    envelope = parse_envelope(body)
    if 300 <= status < 400:
        raise FabricBadAnswer(f"redirect {status} instead of an answer")
    if status >= 400:
        raise http_error(status, envelope, retry_after)
    if envelope is None:
        raise FabricBadAnswer(f"answer {status} is not fabric's response envelope")
    if envelope.status is not None and envelope.status >= 400:
        raise http_error(envelope.status, envelope, retry_after)
    return envelope.data


def map_transport(exc: Exception, what: str) -> Exception:
    """httpx transport failures in the neutral terms; only the exception type is named (never a URL or header)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.PoolTimeout):
        return FabricCongested(f"no free connection for {what}: {name}")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return FabricUnreachable(f"cannot reach fabric for {what}: {name}")
    if isinstance(exc, httpx.TransportError):
        return FabricNoAnswer(f"no answer from fabric for {what}: {name}")
    return exc
