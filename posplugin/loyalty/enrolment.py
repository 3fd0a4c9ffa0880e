"""Enrolling a shopper as a member, in the core's terms: what a vendor's enrolment adapter offers and answers.

The adapter maps its vendor's answers onto these types and onto ``posplugin.loyalty.errors`` (a create whose
answer was lost is ``LoyaltyNoAnswer``/``LoyaltyServerError``/``LoyaltyBadAnswer``: maybe done, look it up before
any retry). Personal data travels in these objects only: their ``repr`` shows none of it, so a traceback or a
debug line cannot carry an e-mail address or a name into the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from .errors import LoyaltyError

IdentifierKind = Literal["email", "mobilePhone"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = ("email", "mobilePhone")
ConsentKind = Literal["preference", "consent"]


@dataclass(frozen=True)
class Identifier:
    """The one key a new member is registered with, already normalised (e-mail lower case, phone E.164)."""

    kind: IdentifierKind
    value: str = field(repr=False)


@dataclass(frozen=True)
class ConsentAnswer:
    """The shopper's explicit yes or no to one consent or preference the store asks for."""

    id: str
    kind: ConsentKind
    value: bool


@dataclass(frozen=True)
class NewMember:
    identifier: Identifier
    first_name: str | None = field(default=None, repr=False)
    answers: tuple[ConsentAnswer, ...] = ()


@dataclass(frozen=True)
class Enrolled:
    """A contact the vendor created (or holds) for the identifier."""

    contact_id: str
    first_name: str | None = field(default=None, repr=False)
    member_number: str | None = None


class IdentifierTaken(LoyaltyError):
    """The vendor refused the new contact: a contact with this identifier exists already."""


class IdentifierAmbiguous(LoyaltyError):
    """More than one contact holds the identifier."""


class IdentifierRefused(LoyaltyError):
    """The vendor does not accept the identifier's format."""

    def __init__(self, kind: IdentifierKind) -> None:
        super().__init__(f"the loyalty system refused the {kind}")
        self.kind = kind


class EnrolmentPort(Protocol):
    """A vendor's enrolment. ``settle_seconds``: how long after a create was sent the vendor has certainly either
    saved it or rolled it back, so a lookup from then on tells whether it was done."""

    @property
    def settle_seconds(self) -> float: ...

    async def find(self, identifier: Identifier) -> str | None:
        """The contactId holding the identifier, or None when there is none."""
        ...

    async def create(self, member: NewMember, store_external_id: str) -> Enrolled:
        """Create the contact, recruited by that store; raises ``IdentifierTaken``, ``IdentifierRefused`` or a
        ``LoyaltyError``."""
        ...
