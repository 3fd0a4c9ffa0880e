"""What the local API v1 accepts: request bodies and the rules for ids, as the contract states them.

Member and voucher ids are opaque strings here (a loyalty backend other than Engage need not use GUIDs); the
vendor's code checks their format (``posplugin.vendors.engage.ids``). The opId rule is one pattern, used both by the
schema and by the server.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from ..enrolment_rules import EnrolmentRequest
from ..ops import OP_ID

OpId = Annotated[
    str,
    Field(
        pattern=OP_ID.pattern,
        description="the POS's id for this operation: 1–64 letters, digits, '-', '_', '.' or ':', starting with a "
        "letter or digit (a UUID is best); the same opId always answers the same op",
    ),
]
MemberId = Annotated[str, Field(min_length=1, max_length=64, description="a member's id (opaque)")]
VoucherId = Annotated[str, Field(min_length=1, max_length=64, description="a voucher's id (opaque)")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentifyBody(Strict):
    code: str = Field(min_length=1, max_length=4096, description="The raw scanned text")
    lookupKey: Literal["email", "mobilePhone"] | None = Field(
        default=None, description="search by this key (an e-mail or phone the cashier typed) instead of the scan rules"
    )


class ReprintBody(Strict):
    contactId: MemberId | None = Field(
        default=None, description="reprint only this member's last receipt (the member on screen)"
    )


class VoucherOpBody(Strict):
    contactId: MemberId
    opId: OpId | None = None


class PurchaseBody(Strict):
    itemId: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    opId: OpId | None = None


class RewardBody(Strict):
    amount: str = Field(
        pattern=r"^[0-9]{1,6}(\.[0-9]{1,2})?$", description="the reward's value in the store's currency, e.g. \"50.00\""
    )
    opId: OpId | None = None


class PrintVoucherBody(Strict):
    contactId: MemberId
    voucherId: VoucherId


class ContactBody(Strict):
    contactId: MemberId


class PrintPurchaseBody(Strict):
    contactId: MemberId
    opId: OpId


class PrintRewardBody(Strict):
    contactId: MemberId
    opId: OpId = Field(description="the reward's op (kind reward_redeem), as POST /members/{contactId}/rewards gave it")


class ResolveBody(Strict):
    note: str = Field(min_length=1, max_length=500, description="what the person did to settle the op")


ConsentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]


class EnrolBody(Strict):
    """A new member: exactly one of ``email`` and ``mobilePhone`` (checked by the server, with a clear error), and
    the shopper's explicit answer to every question ``GET /api/v1/enrolment`` lists for that identifier."""

    email: str | None = Field(default=None, min_length=1, max_length=254, description="an e-mail address")
    mobilePhone: str | None = Field(
        default=None, min_length=1, max_length=16, description="E.164: + and 8–15 digits, no spaces (+46701234567)"
    )
    firstName: str | None = Field(default=None, max_length=200, description="optional; letters, at most 50")
    consents: dict[ConsentId, StrictBool] = Field(
        default_factory=dict,
        max_length=20,
        description="question id → true (yes) or false (no); every question asked must be answered",
    )
    opId: OpId | None = None

    def to_request(self) -> EnrolmentRequest:
        return EnrolmentRequest(self.email, self.mobilePhone, self.firstName, self.consents)
