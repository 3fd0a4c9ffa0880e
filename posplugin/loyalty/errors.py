"""Failures talking to a loyalty system, in the terms the core decides on.

Each vendor's client maps its transport and HTTP failures onto these once, at its boundary (as httpx maps socket
errors onto its own): the outbox, the breaker and the services never see a vendor's exception types. The split
that matters for money is *was the request sent?*: ``LoyaltyUnreachable`` means nothing reached the vendor (safe to
send again); ``LoyaltyNoAnswer``, ``LoyaltyServerError`` and ``LoyaltyBadAnswer`` mean it may have been processed
(reconcile before any re-send).
"""

from __future__ import annotations

from datetime import datetime


class LoyaltyError(Exception):
    """Base for every failure talking to a loyalty system."""


class LoyaltyUnreachable(LoyaltyError):
    """Nothing reached the vendor (connect refused, DNS, connect timeout): safe to try again."""


class LoyaltyCongested(LoyaltyError):
    """Our own side had no free connection in time: nothing was sent, and the vendor is not known to be down
    (not a transport failure: it must not trip the breaker)."""


class LoyaltyNoAnswer(LoyaltyError):
    """The request went out but no answer came back (read timeout, reset): the outcome is unknown."""


class LoyaltyBadAnswer(LoyaltyError):
    """An answer that is not the vendor's documented one (a redirect, an HTML page, a wrong-shape body): whatever
    answered, it was not the vendor saying yes. After sending, the outcome is unknown."""


class LoyaltyHTTPError(LoyaltyError):
    """The vendor answered with an error status; ``code`` is its error code name when one could be read."""

    def __init__(self, status: int, code: str | None, detail: str, server_date: datetime | None = None) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.server_date = server_date
        super().__init__(f"answered {status} {code or ''}".rstrip() + (f": {detail}" if detail else ""))


class LoyaltyServerError(LoyaltyHTTPError):
    """5xx, including a gateway timeout: for a POST the outcome is unknown."""


class LoyaltyAuthError(LoyaltyHTTPError):
    """401/403: the credentials are missing, wrong or lack rights."""


class LoyaltyRateLimited(LoyaltyHTTPError):
    def __init__(self, status: int, code: str | None, detail: str, retry_after: float | None) -> None:
        super().__init__(status, code, detail)
        self.retry_after = retry_after


class MemberNotFound(LoyaltyError):
    """The vendor answered: no such member (for this id, or for this code under this key)."""


class MultipleMembers(LoyaltyError):
    """The code matches more than one member: the cashier must ask for another id."""


# Failures that say "the vendor is not usable right now"; other 4xx answers prove it is reachable.
TRANSPORT_FAILURES: tuple[type[LoyaltyError], ...] = (
    LoyaltyUnreachable,
    LoyaltyNoAnswer,
    LoyaltyServerError,
    LoyaltyBadAnswer,
)
