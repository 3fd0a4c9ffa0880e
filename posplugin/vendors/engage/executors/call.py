"""What every outbox executor shares: one call to Engage, and how its failures map to outcomes.

Transport-level failures (nothing sent, or no clear answer) say nothing about the operation: sent-or-not decides
between retry and reconcile, and they count against the breaker. Any other 4xx is Engage's refusal of this
operation, which each executor interprets; it proves Engage is reachable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ....loyalty.status import LoyaltyStatus
from ....outbox.model import NotSent, Outcome, Unknown
from .. import (
    EngageAuthError,
    EngageBadResponse,
    EngageBusy,
    EngageClient,
    EngageError,
    EngageHTTPError,
    EngageNoAnswer,
    EngageRateLimited,
    EngageServerError,
    EngageUnreachable,
)

T = TypeVar("T")
TRANSPORT_ERRORS = (EngageServerError, EngageRateLimited, EngageAuthError)
BUSY_RETRY = 1.0  # seconds; our own connection pool was full, nothing was sent


def transport_outcome(exc: EngageError) -> Outcome:
    """Failures that say nothing about the operation: sent-or-not decides between retry and reconcile."""
    if isinstance(exc, EngageRateLimited):
        return NotSent("rate_limited", exc.retry_after if exc.retry_after is not None else 1.0, 429)
    if isinstance(exc, EngageAuthError):
        return NotSent("loyalty_auth", None, exc.status)
    if isinstance(exc, EngageUnreachable):
        return NotSent("engage_unreachable", unreached=True)
    if isinstance(exc, EngageBusy):
        return NotSent("agent_busy", BUSY_RETRY)
    if isinstance(exc, EngageBadResponse):
        # A redirect, an HTML page or a wrong-shape body after the request went out: not Engage's "yes".
        return Unknown("not_engage_answer", exc.status)
    if isinstance(exc, EngageServerError):
        return Unknown(f"http_{exc.status}", exc.status)
    if isinstance(exc, EngageNoAnswer):
        return Unknown("no_answer")
    return Unknown(type(exc).__name__)


class EngageCall:
    """Base of the executors: the client, the breaker and the clock, and one guarded call."""

    # Error codes the vendor marks as "not done yet, the same request may be sent again".
    retryable_codes: frozenset[str] = frozenset()

    def __init__(self, client: EngageClient, status: LoyaltyStatus, clock: Callable[[], float]) -> None:
        self.client = client
        self.status = status
        self.clock = clock

    async def _call(
        self,
        call: Callable[[], Awaitable[T]],
        on_done: Callable[[T], Outcome],
        on_refusal: Callable[[EngageHTTPError], Awaitable[Outcome]],
    ) -> Outcome:
        try:
            result = await call()
        except EngageHTTPError as exc:
            if exc.code in self.retryable_codes:
                self.status.record_success()
                return Unknown(exc.code or "retryable", exc.status)
            if isinstance(exc, TRANSPORT_ERRORS):
                self.status.record_failure(exc)
                return transport_outcome(exc)
            self.status.record_success()
            return await on_refusal(exc)
        except EngageError as exc:
            self.status.record_failure(exc)
            return transport_outcome(exc)
        self.status.record_success()
        return on_done(result)
