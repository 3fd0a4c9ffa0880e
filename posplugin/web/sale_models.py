"""Request bodies for sales and point adjustments: shapes and bounds here, the meaning in ``sale_rules``."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..sale_rules import Payment, Sale, SaleLine, Totals
from ..sales import SaleRequest
from .api_requests import OpId


def _four_places(value: Decimal) -> Decimal:
    """POS software often sends binary-float noise (224.01999999999998); amounts are kept to 4 decimals."""
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value.quantize(Decimal("0.0001"))


def _positive_quantity(value: Decimal) -> Decimal:
    value = _four_places(value)
    if value <= 0:
        raise ValueError("must be more than 0.0001")
    return value


# Money may come as a JSON number or as a decimal string; Python's Decimal would read "1_0" as 10 and " 1e3 " as
# 1000, so a string must be plain digits with an optional sign and fraction.
DECIMAL_STRING = r"^-?[0-9]{1,10}(\.[0-9]{1,10})?$"
_DECIMAL_STRING = re.compile(DECIMAL_STRING)
MONEY_LIMIT = 1_000_000_000


def _plain_decimal(value: object) -> object:
    if isinstance(value, str) and not _DECIMAL_STRING.fullmatch(value):
        raise ValueError("must be a number or a decimal string like 12.50")
    if isinstance(value, bool):
        raise ValueError("must be a number or a decimal string like 12.50")
    return value


def _money_schema(minimum: int) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": minimum, "maximum": MONEY_LIMIT},
                {"type": "string", "pattern": DECIMAL_STRING if minimum < 0 else DECIMAL_STRING.replace("-?", "")},
            ],
            "description": "a number, or a decimal string (digits, optional sign and fraction)",
        }
    )


Amount = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(ge=0, le=MONEY_LIMIT),
    AfterValidator(_four_places),
    _money_schema(0),
]
SignedAmount = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(ge=-MONEY_LIMIT, le=MONEY_LIMIT),
    AfterValidator(_four_places),
    _money_schema(-MONEY_LIMIT),
]
Text = Annotated[str, Field(max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberRef(Strict):
    contactId: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, min_length=1, max_length=4096, description="a scanned member code")

    @model_validator(mode="after")
    def one_of(self) -> MemberRef:
        if (self.contactId is None) == (self.code is None):
            raise ValueError("give exactly one of contactId or code")
        return self


class LineBody(Strict):
    type: Literal["purchase", "return"] = "purchase"
    sku: str = Field(min_length=1, max_length=100)
    name: Text = ""
    quantity: Annotated[
        Decimal,
        BeforeValidator(_plain_decimal),
        Field(gt=0, le=100_000),
        AfterValidator(_positive_quantity),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "exclusiveMinimum": 0, "maximum": 100_000},
                    {"type": "string", "pattern": DECIMAL_STRING.replace("-?", "")},
                ]
            }
        ),
    ]
    unitPrice: Amount = Field(description="price of one unit, excluding tax, before discount")
    grossAmount: Amount = Field(description="the line's total including tax, before discount")
    discountAmount: Amount = Decimal(0)
    taxAmount: Amount = Decimal(0)
    taxPercent: Annotated[
        Decimal,
        BeforeValidator(_plain_decimal),
        Field(ge=0, le=100),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0, "maximum": 100},
                    {"type": "string", "pattern": DECIMAL_STRING.replace("-?", "")},
                ]
            }
        ),
    ] = Decimal(0)
    netAmount: Amount = Field(description="gross − tax − discount")


class TotalsBody(Strict):
    grossAmount: SignedAmount
    discountAmount: SignedAmount = Decimal(0)
    taxAmount: SignedAmount = Decimal(0)
    netAmount: SignedAmount
    paidAmount: SignedAmount


class PaymentBody(Strict):
    method: str = Field(min_length=1, max_length=50)
    amount: SignedAmount
    reference: Text = ""


class UsedVoucherBody(Strict):
    voucherId: str | None = Field(default=None, max_length=64)
    voucherNumber: str | None = Field(default=None, max_length=64)


class SaleBody(Strict):
    receiptId: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    createdDate: datetime = Field(description="local time of the sale with its UTC offset")
    storeId: str | None = Field(default=None, min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    member: MemberRef | None = None
    lines: list[LineBody] = Field(min_length=1, max_length=500)
    totals: TotalsBody
    payments: list[PaymentBody] = Field(default_factory=list, max_length=20)
    usedVouchers: list[UsedVoucherBody] = Field(default_factory=list, max_length=50)
    originalReceiptId: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="a return: the receiptId of the sale it returns (fabric reverses that earn; Engage ignores it)",
    )
    note: Text = ""

    @field_validator("createdDate")
    @classmethod
    def has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("createdDate needs its UTC offset, e.g. 2026-11-22T10:15:00+01:00")
        return value

    def to_request(self) -> SaleRequest:
        lines = [
            SaleLine(
                line.type,
                line.sku,
                line.name,
                line.quantity,
                line.unitPrice,
                line.grossAmount,
                line.discountAmount,
                line.taxAmount,
                line.taxPercent,
                line.netAmount,
            )
            for line in self.lines
        ]
        t = self.totals
        free_text = {"note": self.note}
        free_text.update({f"lines[{i}].name": line.name for i, line in enumerate(self.lines, start=1)})
        for i, payment in enumerate(self.payments, start=1):
            free_text[f"payments[{i}].method"] = payment.method
            free_text[f"payments[{i}].reference"] = payment.reference
        sale = Sale(
            self.receiptId,
            self.currency,
            lines,
            Totals(t.grossAmount, t.discountAmount, t.taxAmount, t.netAmount, t.paidAmount),
            [Payment(p.method, p.amount, p.reference) for p in self.payments],
            self.note,
            free_text,
        )
        return SaleRequest(
            sale=sale,
            created_date=self.createdDate,
            store_id=self.storeId,
            contact_id=self.member.contactId if self.member else None,
            member_code=self.member.code if self.member else None,
            used_vouchers=[
                {k: v for k, v in voucher.model_dump().items() if v is not None} for voucher in self.usedVouchers
            ],
            original_receipt_id=self.originalReceiptId,
        )


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("an adjustment of 0 points changes nothing")
    return value


class PointAdjustmentBody(Strict):
    amount: Annotated[
        int,
        Field(ge=-1_000_000, le=1_000_000, description="points to add (negative to remove), never 0"),
        AfterValidator(_not_zero),
        WithJsonSchema(
            {
                "type": "integer",
                "minimum": -1_000_000,
                "maximum": 1_000_000,
                "not": {"const": 0},
                "description": "points to add (negative to remove), never 0",
            }
        ),
    ]
    description: str = Field(min_length=1, max_length=200)
    definitionId: int = Field(default=1, ge=1)
    validFrom: datetime | None = None
    validTo: datetime | None = None
    opId: OpId | None = None
