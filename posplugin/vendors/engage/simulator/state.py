"""The simulator's data and the vendor semantics from the seeds, free of HTTP.

Every method either returns a JSON-ready value or raises ``SimError(status, code)``. All mutation happens under
one lock; waits (the redeem point of no return) happen in the HTTP layer outside it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .promotions import PromotionBook

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?\d{7,15}$")
SSN = re.compile(r"^(\d{6}|\d{8})[-+]?\d{4}$")
LOOKUP_KEYS = ("email", "mobilePhone", "socialSecurityNumber", "customKey", "memberNumber", "externalId")
# Receipts (engage-api.md, "Receipts — field definitions") [doc].
RECEIPT_REQUIRED = (
    "uniqueReceiptId",
    "createdDate",
    "storeExternalId",
    "currency",
    "totalGrossPrice",
    "paymentMethods",
    "items",
)
MATCH_KEY_TYPES = ("contactId", "memberNumber", "socialSecurityNumber", "mobilePhone", "externalId", "email")
ITEM_TYPES = ("PURCHASE", "RETURN", "ADJUSTMENT")
PAYMENT_FIELDS = frozenset({"type", "value", "description", "extraData"})
# How far the receipt's totals may be from the sum of its parts: the vendor's tolerance is not documented
# [assumed]; a cent on the payments, a cent a line on the items (each line is rounded on its own).
RECEIPT_PAYMENT_TOLERANCE = 0.011
RECEIPT_LINE_TOLERANCE = 0.011
# Whether a repeated client-made transactionId is the same point transaction is not documented [assumed].
POINT_TRANSACTION_ID_IDEMPOTENT = True
BULK_LIMIT = 1000
DESCRIPTION_CODES = (
    "@@(Bonus.Points)",
    "@@(RemovedDueToTimeLimit)",
    "@@(Bonus.DeductionForDiscount)",
    "@@(Bonus.DeductionForReturn)",
    "@@(ConvertedToBonusCheck)",
)


class SimError(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message or code


def engage_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    # Seven fractional digits, as Engage sends them, so clients are tested against the awkward format.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


def require_guid(value: str | None, code: str) -> str:
    if not value or not GUID.match(value):
        raise SimError(400, code, f"{value!r} is not a valid GUID")
    return value.lower()


@dataclass
class Contact:
    id: str
    first_name: str
    last_name: str
    member_number: str
    email: str = ""
    mobile_phone: str = ""
    ssn: str = ""
    external_id: str = ""
    cards: list[str] = field(default_factory=list)
    # Set when the contact was created through the API (enrolment): what Engage was told, for tests to check.
    source: str = ""
    store_external_id: str = ""
    preferences: dict[str, bool] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)

    def keys(self) -> dict[str, list[str]]:
        return {
            "email": [self.email.lower()] if self.email else [],
            "mobilePhone": [self.mobile_phone] if self.mobile_phone else [],
            "socialSecurityNumber": [self.ssn] if self.ssn else [],
            "customKey": [self.member_number, *self.cards],
            "memberNumber": [self.member_number],
            "externalId": [self.external_id] if self.external_id else [],
        }


@dataclass
class Account:
    id: str
    contact_id: str
    definition_id: int
    balance_expires: datetime | None = None


@dataclass
class Transaction:
    id: str
    account_id: str
    amount: float
    type: str
    description: str
    source: str
    transaction_date: datetime
    created_on: datetime
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    visible_from: datetime | None = None  # receipts credit points only after Engage "processed" them
    source_id: str = ""  # the client-made transactionId it was posted with


@dataclass
class Voucher:
    id: str
    contact_id: str
    voucher_number: str
    name: str
    amount: float
    currency: str
    expires_on: datetime
    points: int
    local_values: list[tuple[str, float]] = field(default_factory=list)
    redeemed_on: datetime | None = None
    reactivations: int = 0


@dataclass
class ShopItem:
    id: str
    name: str
    cost: int
    definition_id: int
    valid_from: datetime | None
    valid_to: datetime | None
    description: str = ""
    promotion_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Purchase:
    id: str
    contact_id: str
    item_id: str
    cost: int
    created_on: datetime
    promotion_id: str
    completes_at: datetime


@dataclass
class SimSettings:
    point_of_no_return: float = 4.5
    reactivation_limit: int = 3
    purchase_processing_seconds: float = 2.0
    receipt_points_delay: float = 5.0
    point_accounts_as_array: bool = False
    # Seconds a single point transaction waits after its 202 before it is applied (seen: answered 202 and
    # applied later); until then it is in no list, no balance and no GET.
    point_transaction_delay: float = 0.0
    point_transaction_id_idempotent: bool = POINT_TRANSACTION_ID_IDEMPOTENT
    # POST /contacts: Engage answers 504 after about 5 s and rolls the work back [doc] (the ``rollback_timeout``
    # fault waits this long); tests make it short.
    contact_create_limit: float = 5.0
    # A new contact whose e-mail or mobile phone a contact already has: "conflict" answers 409 (the code in
    # contact_creation.DUPLICATE_CODE); "first_match" answers the existing contact, as v2 documents it [v2].
    duplicate_contacts: str = "conflict"


class SimState:
    def __init__(self, clock: Callable[[], float] = time.time, settings: SimSettings | None = None) -> None:
        self._clock = clock
        self.settings = settings or SimSettings()
        self.lock = threading.RLock()
        self.contacts: dict[str, Contact] = {}
        self.accounts: dict[str, Account] = {}
        self.transactions: list[Transaction] = []
        self.definitions: dict[int, str] = {1: "Bonuspoäng"}
        self.vouchers: dict[str, Voucher] = {}
        self.items: dict[str, ShopItem] = {}
        self.purchases: dict[str, Purchase] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.duplicate_receipts = 0
        self.bulk_batches: list[int] = []  # rows per bulk point-transaction call, in order
        self.point_transaction_ids: dict[str, str] = {}
        self.redeem_commits: dict[str, int] = {}  # voucher id → times committed (tests assert ≤ 1 per redemption)
        self.redeemed_elsewhere: set[str] = set()
        from .promotions import PromotionBook  # it builds on this module's errors and helpers

        self.promotions: PromotionBook = PromotionBook(self)
        # Enrolment: the tenant's configured contact sources, its stores (empty: any store id is accepted) and
        # the contacts created through the API, in order (tests assert exactly one per shopper).
        self.contact_sources: set[str] = {"POS"}
        self.stores: set[str] = set()
        self.created_contacts: list[str] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # ---- data set-up -----------------------------------------------------------------------------------

    def add_contact(self, contact: Contact, balance: float = 0, pending: float = 0) -> Contact:
        with self.lock:
            self.contacts[contact.id] = contact
            account = self.account_for(contact.id, 1)
            now = self.now()
            if balance:
                self._add_tx(
                    account.id,
                    balance,
                    "Addition",
                    "@@(Bonus.Points) - Välkomstbonus",
                    "Purchase",
                    now - timedelta(days=30),
                )
            if pending:
                self._add_tx(
                    account.id,
                    pending,
                    "Addition",
                    "@@(Bonus.Points) - Jeans",
                    "Purchase",
                    now - timedelta(days=1),
                    valid_from=now + timedelta(days=14),
                )
            return contact

    def account_for(self, contact_id: str, definition_id: int) -> Account:
        with self.lock:
            for account in self.accounts.values():
                if account.contact_id == contact_id and account.definition_id == definition_id:
                    return account
            account = Account(str(uuid.uuid4()), contact_id, definition_id, self.now() + timedelta(days=365))
            self.accounts[account.id] = account
            return account

    def _add_tx(
        self,
        account_id: str,
        amount: float,
        type_: str,
        description: str,
        source: str,
        when: datetime,
        *,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        tx_id: str | None = None,
        visible_from: datetime | None = None,
    ) -> Transaction:
        tx = Transaction(
            tx_id or str(uuid.uuid4()),
            account_id,
            amount,
            type_,
            description,
            source,
            when,
            self.now(),
            valid_from,
            valid_to,
            visible_from,
        )
        self.transactions.append(tx)
        return tx

    # ---- contacts --------------------------------------------------------------------------------------

    def find_contact_id(self, params: Mapping[str, str]) -> str:
        keys = [k for k in params if k in (*LOOKUP_KEYS, "any")]
        contact_type = params.get("contactType")
        if contact_type is not None and contact_type not in ("Member", "Contact"):
            raise SimError(400, "InvalidContactType")
        if len(keys) != 1 or not params[keys[0]].strip():
            raise SimError(400, "InvalidSearchQuery", "give exactly one lookup key")
        key, value = keys[0], params[keys[0]].strip()
        if key == "any":
            key = self._any_key(value)
        elif key == "email" and not EMAIL.match(value):
            raise SimError(400, "InvalidEmailAddress")
        elif key == "mobilePhone" and not PHONE.match(value):
            raise SimError(400, "InvalidPhoneNumber")
        elif key == "socialSecurityNumber" and not SSN.match(value):
            raise SimError(400, "InvalidSocialSecurityNumber")
        wanted = value.lower() if key == "email" else value
        with self.lock:
            found = [c.id for c in self.contacts.values() if wanted in c.keys()[key]]
        if not found:
            raise SimError(404, "ContactNotFound")
        if len(found) > 1:
            raise SimError(409, "MultipleMatches")
        return found[0]

    @staticmethod
    def _any_key(value: str) -> str:
        # The vendor's documented quirk: the first *format* that fits wins, match or not.
        if EMAIL.match(value):
            return "email"
        if SSN.match(value):
            return "socialSecurityNumber"
        if PHONE.match(value):
            return "mobilePhone"
        return "customKey"

    def contact(self, contact_id: str) -> dict[str, Any]:
        contact = self._contact(require_guid(contact_id, "InvalidContactId"))
        return {
            "id": contact.id,
            "contactType": "Member",
            "attributes": {
                "firstName": contact.first_name,
                "lastName": contact.last_name,
                "memberNumber": contact.member_number,
                "email": contact.email,
                "mobilePhone": contact.mobile_phone,
            },
        }

    def _contact(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id.lower())
        if contact is None:
            raise SimError(404, "ContactNotFound")
        return contact

    # ---- points ----------------------------------------------------------------------------------------

    def _visible(self, tx: Transaction, now: datetime) -> bool:
        return tx.visible_from is None or tx.visible_from <= now

    def _balances(self, account_id: str) -> tuple[float, float]:
        now = self.now()
        active = pending = 0.0
        for tx in self.transactions:
            if tx.account_id != account_id or not self._visible(tx, now):
                continue
            if tx.valid_to is not None and tx.valid_to <= now:
                continue
            if tx.valid_from is not None and tx.valid_from > now:
                pending += tx.amount
            else:
                active += tx.amount
        return active, pending

    def active_balance(self, contact_id: str, definition_id: int) -> float:
        with self.lock:
            return self._balances(self.account_for(contact_id, definition_id).id)[0]

    def _account_json(self, account: Account) -> dict[str, Any]:
        active, pending = self._balances(account.id)
        return {
            "id": account.id,
            "contactId": account.contact_id,
            "definitionId": account.definition_id,
            "balance": _number(active),
            "pendingPoints": _number(pending),
            "balanceExpires": engage_time(account.balance_expires),
            "pointsWillExpireDueToInactivity": None,
            "links": [],
        }

    def point_accounts(self, contact_id: str | None) -> Any:
        cid = require_guid(contact_id, "InvalidContactId")
        with self.lock:
            self._contact(cid)
            items = [self._account_json(a) for a in self.accounts.values() if a.contact_id == cid]
        if self.settings.point_accounts_as_array:
            return items
        return {"links": [], "count": len(items), "offset": 0, "items": items, "totalCount": len(items)}

    def point_account(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            account = self.accounts.get(account_id)
            if account is None:
                raise SimError(404, "PointAccountNotFound")
            return self._account_json(account)

    def _tx_json(self, tx: Transaction) -> dict[str, Any]:
        return {
            "id": tx.id,
            "accountId": tx.account_id,
            "description": tx.description,
            "source": tx.source,
            "amount": _number(tx.amount),
            "type": tx.type,
            "transactionDate": engage_time(tx.transaction_date),
            "createdOn": engage_time(tx.created_on),
            "modifiedOn": engage_time(tx.created_on),
            "validFrom": engage_time(tx.valid_from),
            "validTo": engage_time(tx.valid_to),
            "retailTransactionLineItemId": None,
        }

    def point_transactions(self, params: Mapping[str, str]) -> dict[str, Any]:
        account_id = params.get("id") or params.get("accountId") or ""
        filter_ = (params.get("filter") or "All").lower()
        if filter_ not in ("all", "active", "pending"):
            raise SimError(400, "InvalidFilter")
        offset, count = _paging(params)
        sort_by = (params.get("sortBy") or "TransactionDate").lower()
        descending = (params.get("sortOrder") or "Desc").lower() != "asc"
        now = self.now()
        with self.lock:
            if account_id not in self.accounts:
                raise SimError(404, "PointAccountNotFound")
            txs = [t for t in self.transactions if t.account_id == account_id and self._visible(t, now)]
        if filter_ == "pending":
            txs = [t for t in txs if t.valid_from is not None and t.valid_from > now]
        elif filter_ == "active":
            txs = [t for t in txs if t.valid_from is None or t.valid_from <= now]
        key = (lambda t: t.created_on) if sort_by == "createdon" else (lambda t: t.transaction_date)
        txs.sort(key=key, reverse=descending)
        page = txs[offset : offset + count]
        return {
            "items": [self._tx_json(t) for t in page],
            "totalCount": len(txs),
            "offset": offset,
            "count": len(page),
            "links": [],
        }

    def point_transaction(self, tx_id: str) -> dict[str, Any]:
        """By Engage's id or by the client-made ``transactionId`` it was posted with (the latter [assumed])."""
        now = self.now()
        with self.lock:
            wanted = self.point_transaction_ids.get(tx_id, tx_id)
            for tx in self.transactions:
                if tx.id == wanted and self._visible(tx, now):
                    return self._tx_json(tx)
        raise SimError(404, "PointTransactionNotFound")

    def add_point_transaction(self, body: Any) -> tuple[int, dict[str, Any] | None]:
        if not isinstance(body, dict):
            raise SimError(400, "InvalidRequest", "expected a JSON object")
        tx_id = str(body.get("transactionId") or "")
        account_id = str(body.get("accountId") or "")
        amount = body.get("amount")
        if not tx_id or not isinstance(amount, int | float) or isinstance(amount, bool):
            raise SimError(400, "InvalidRequest", "transactionId and a numeric amount are required")
        with self.lock:
            if self.settings.point_transaction_id_idempotent and tx_id in self.point_transaction_ids:
                return 202, None
            if account_id not in self.accounts:
                raise SimError(404, "PointAccountNotFound")
            delay = self.settings.point_transaction_delay
            tx = self._add_tx(
                account_id,
                float(amount),
                str(body.get("transactionType") or "Adjustment"),
                str(body.get("description") or ""),
                str(body.get("source") or "Adjustment"),
                parse_time(body.get("transactionDate")) or self.now(),
                valid_from=parse_time(body.get("validFrom")),
                valid_to=parse_time(body.get("validTo")),
                visible_from=self.now() + timedelta(seconds=delay) if delay else None,
            )
            tx.source_id = tx_id
            self.point_transaction_ids[tx_id] = tx.id
            return 202, None  # seed 000: "a successful POST gets a HTTP 202 Accepted response"

    def point_transactions_posted(self, tx_id: str) -> int:
        """How many transactions a client-made id produced (tests assert exactly one)."""
        with self.lock:
            return sum(1 for t in self.transactions if t.source_id == tx_id)

    def add_point_transactions_bulk(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, list):
            raise SimError(400, "InvalidRequest", "expected a JSON array")
        if len(body) > BULK_LIMIT:
            raise SimError(400, "TooManyItems", f"at most {BULK_LIMIT} rows")
        self.bulk_batches.append(len(body))
        not_accepted: list[Any] = []
        missing_contacts: list[str] = []
        missing_definitions: list[Any] = []
        with self.lock:
            for index, row in enumerate(body):
                if not isinstance(row, dict) or not isinstance(row.get("amount"), int | float):
                    not_accepted.append(index)
                    continue
                contact_id = str(row.get("contactId") or "").lower()
                definition = row.get("definitionId")
                if contact_id not in self.contacts:
                    not_accepted.append(index)
                    missing_contacts.append(contact_id)
                    continue
                if definition not in self.definitions:
                    not_accepted.append(index)
                    missing_definitions.append(definition)
                    continue
                account = self.account_for(contact_id, int(definition))
                self._add_tx(
                    account.id,
                    float(row["amount"]),
                    "Addition" if row["amount"] >= 0 else "Deduction",
                    str(row.get("description") or ""),
                    str(row.get("source") or "Adjustment"),
                    parse_time(row.get("timeStamp")) or self.now(),
                    valid_from=parse_time(row.get("validFrom")),
                    valid_to=parse_time(row.get("validTo")),
                )
        return {
            "notAccepted": not_accepted,
            "errorMessages": [],
            "missingDefinitionIds": missing_definitions,
            "missingContactIds": missing_contacts,
        }

    def point_definitions(self) -> list[dict[str, Any]]:
        return [{"id": k, "name": v, "description": v} for k, v in sorted(self.definitions.items())]

    def point_definition(self, definition_id: str) -> dict[str, Any]:
        try:
            key = int(definition_id)
        except ValueError:
            raise SimError(400, "InvalidDefinitionId") from None
        if key not in self.definitions:
            raise SimError(404, "PointDefinitionNotFound")
        return {"id": key, "name": self.definitions[key], "description": self.definitions[key]}

    # ---- vouchers --------------------------------------------------------------------------------------

    def _voucher_json(self, v: Voucher) -> dict[str, Any]:
        return {
            "id": v.id,
            "voucherNumber": v.voucher_number,
            "name": v.name,
            "redeemedOn": engage_time(v.redeemed_on),
            "redeemed": v.redeemed_on is not None,
            "expiresOn": engage_time(v.expires_on),
            "value": {"currency": v.currency, "amount": _number(v.amount)},
            "localValues": [{"currency": c, "amount": _number(a)} for c, a in v.local_values],
            "points": v.points,
        }

    def list_vouchers(self, which: str, params: Mapping[str, str]) -> dict[str, Any]:
        cid = require_guid(params.get("contactId"), "InvalidContactId")
        offset, count = _paging(params)
        now = self.now()
        with self.lock:
            self._contact(cid)
            mine = sorted((v for v in self.vouchers.values() if v.contact_id == cid), key=lambda v: v.expires_on)
            if which == "available":
                mine = [v for v in mine if v.redeemed_on is None and v.expires_on > now]
            elif which == "redeemed":
                mine = [v for v in mine if v.redeemed_on is not None]
            page = [self._voucher_json(v) for v in mine[offset : offset + count]]
        return {"count": len(page), "offset": offset, "items": page, "totalCount": len(mine)}

    def check_redeemable(self, voucher_id: str) -> None:
        """The checks Engage makes before it starts a redemption."""
        vid = require_guid(voucher_id, "InvalidRewardVoucherId")
        with self.lock:
            voucher = self.vouchers.get(vid)
            if voucher is None:
                raise SimError(404, "RewardVoucherNotFound")
            if voucher.redeemed_on is not None:
                raise SimError(409, "RewardVoucherAlreadyRedeemed")
            if voucher.expires_on <= self.now():
                raise SimError(409, "RewardVoucherExpired")

    def commit_redeem(self, voucher_id: str, at: datetime | None = None) -> None:
        """Save the voucher as redeemed: the point of no return. Re-checks under the lock (concurrent redeems)."""
        with self.lock:
            self.check_redeemable(voucher_id)
            voucher = self.vouchers[voucher_id.lower()]
            voucher.redeemed_on = at or self.now()
            self.redeem_commits[voucher.id] = self.redeem_commits.get(voucher.id, 0) + 1

    def redeem_elsewhere(self, voucher_id: str, at: datetime | None = None) -> None:
        """Another channel (web shop, other till) redeems the voucher: for tests and demos. ``at`` stamps it
        as Engage would have, so a test can place it outside the agent's own attempt."""
        with self.lock:
            self.commit_redeem(voucher_id, at)
            self.redeemed_elsewhere.add(voucher_id.lower())

    def reactivate(self, voucher_id: str) -> None:
        vid = require_guid(voucher_id, "InvalidRewardVoucherId")
        with self.lock:
            voucher = self.vouchers.get(vid)
            if voucher is None:
                raise SimError(404, "RewardVoucherNotFound")
            if voucher.expires_on <= self.now():
                raise SimError(409, "RewardVoucherExpired")
            if voucher.redeemed_on is None:
                raise SimError(409, "RewardVoucherAlreadyActivated")
            if voucher.reactivations >= self.settings.reactivation_limit:
                raise SimError(409, "ReactivationLimitExceeded")
            voucher.redeemed_on = None
            voucher.reactivations += 1

    # ---- point shop ------------------------------------------------------------------------------------

    def shop_items(self, contact_id: str | None) -> list[dict[str, Any]]:
        cid = require_guid(contact_id, "InvalidContactId")
        with self.lock:
            self._contact(cid)
            return [
                {
                    "id": item.id,
                    "name": item.name,
                    "cost": item.cost,
                    "pointDefinitionId": item.definition_id,
                    "promotionId": item.promotion_id,
                    "validFrom": engage_time(item.valid_from),
                    "validTo": engage_time(item.valid_to),
                    "presentation": {"title": item.name, "description": item.description, "imageUrl": "", "link": ""},
                }
                for item in self.items.values()
            ]

    def _purchase_json(self, p: Purchase) -> dict[str, Any]:
        item = self.items.get(p.item_id)
        return {
            "pointShopItemPurchaseId": p.id,
            "contactId": p.contact_id,
            "pointShopItemId": p.item_id,
            "name": item.name if item else "",
            "cost": p.cost,
            "promotionId": p.promotion_id,
            "status": "Completed" if self.now() >= p.completes_at else "Processing",
            "createdOn": engage_time(p.created_on),
        }

    def purchase(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SimError(400, "InvalidRequest", "expected a JSON object")
        contact_id = require_guid(_str(body.get("contactId")), "InvalidContact")
        purchase_id = require_guid(_str(body.get("pointShopItemPurchaseId")), "InvalidPointShopItemPurchaseId")
        item_id = _str(body.get("pointShopItemId")) or _str(body.get("id"))
        with self.lock:
            existing = self.purchases.get(purchase_id)
            if existing is not None:
                if existing.contact_id != contact_id:
                    raise SimError(400, "PointShopItemPurchaseIdConflict", "purchase id belongs to another contact")
                return self._purchase_json(existing)
            if contact_id not in self.contacts:
                raise SimError(400, "PromotionAssignmentContactNotFound")
            item = self.items.get(item_id or "")
            if item is None:
                raise SimError(404, "PointShopItemNotFound", "Item does not exist")
            now = self.now()
            if (item.valid_to is not None and item.valid_to <= now) or (
                item.valid_from is not None and item.valid_from > now
            ):
                raise SimError(400, "PromotionAssignmentPromotionExpired")
            account = self.account_for(contact_id, item.definition_id)
            if self._balances(account.id)[0] < item.cost:
                raise SimError(422, "InsufficientPoints")
            self._add_tx(account.id, -item.cost, "Deduction", f"Point shop - {item.name}", "PointShop", now)
            purchase = Purchase(
                purchase_id,
                contact_id,
                item.id,
                item.cost,
                now,
                item.promotion_id,
                now + timedelta(seconds=self.settings.purchase_processing_seconds),
            )
            self.purchases[purchase_id] = purchase
            self.promotions.assign_for_purchase(purchase)
            return self._purchase_json(purchase)

    def purchases_of(self, contact_id: str | None) -> list[dict[str, Any]]:
        cid = require_guid(contact_id, "InvalidContact")
        with self.lock:
            mine = [self._purchase_json(p) for p in self.purchases.values() if p.contact_id == cid]
        if not mine:
            raise SimError(404, "PointShopItemPurchasesNotFound")
        return sorted(mine, key=lambda p: p["createdOn"] or "", reverse=True)

    def points_deducted_for(self, purchase_id: str) -> int:
        """How many deductions a purchase caused (tests assert exactly one)."""
        with self.lock:
            return 1 if purchase_id in self.purchases else 0

    # ---- receipts --------------------------------------------------------------------------------------

    def receipt(self, body: Any) -> tuple[int, dict[str, Any]]:
        """``POST /receipts``, refusing what the vendor's field definitions rule out."""
        if not isinstance(body, dict):
            raise SimError(400, "InvalidReceipt", "expected a JSON object")
        missing = [k for k in RECEIPT_REQUIRED if body.get(k) in (None, "")]
        if missing:
            raise SimError(400, "InvalidReceipt", f"missing {', '.join(missing)}")
        receipt_id = str(body["uniqueReceiptId"])
        with self.lock:
            if receipt_id in self.receipts:
                self.duplicate_receipts += 1
                return 202, {"uniqueReceiptId": receipt_id, "duplicate": True}
            contact_id = self._receipt_contact(body.get("contact"))
            gross = _check_receipt_amounts(body)
            self.promotions.check_used(body.get("usedPromotions"))
            self.receipts[receipt_id] = body
            if contact_id:
                account = self.account_for(contact_id, 1)
                visible = self.now() + timedelta(seconds=self.settings.receipt_points_delay)
                self._add_tx(
                    account.id,
                    float(int(gross)),
                    "Addition" if gross >= 0 else "Deduction",
                    "@@(Bonus.Points)" if gross >= 0 else "@@(Bonus.DeductionForReturn)",
                    "Purchase",
                    self.now(),
                    visible_from=visible,
                )
        return 202, {"uniqueReceiptId": receipt_id}

    def _receipt_contact(self, contact: Any) -> str | None:
        """The contact a receipt names; a contact object that is malformed or names nobody is refused."""
        if contact is None:
            return None
        if not isinstance(contact, dict) or not isinstance(contact.get("matchKey"), str):
            raise SimError(400, "InvalidReceipt", "contact needs matchKey and matchKeyType")
        key, value = contact.get("matchKeyType"), contact["matchKey"]
        if key not in MATCH_KEY_TYPES:
            raise SimError(400, "InvalidReceipt", f"matchKeyType must be one of {', '.join(MATCH_KEY_TYPES)}")
        if key == "contactId":
            cid = require_guid(value, "InvalidReceipt")
            if cid not in self.contacts:
                raise SimError(404, "ContactNotFound")
            return cid
        return self.find_contact_id({key: value})


def _check_receipt_amounts(body: dict[str, Any]) -> float:
    """Items and payments in their documented shapes, and ``totalGrossPrice`` = what was paid incl. VAT
    (= Σ payments = Σ items' ``grossPaidPrice``). Returns the total."""
    gross = body["totalGrossPrice"]
    if not _is_number(gross):
        raise SimError(400, "InvalidReceipt", "totalGrossPrice must be a number")
    items, payments = body["items"], body["paymentMethods"]
    if not isinstance(items, list) or not items or not isinstance(payments, list):
        raise SimError(400, "InvalidReceipt", "items (at least one) and paymentMethods must be arrays")
    paid_by_items = 0.0
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise SimError(400, "InvalidReceipt", f"items[{n}] is not an object")
        if item.get("type") not in ITEM_TYPES:
            raise SimError(400, "InvalidReceipt", f"items[{n}].type must be one of {', '.join(ITEM_TYPES)}")
        if not isinstance(item.get("articleName"), str) or not item["articleName"].strip():
            raise SimError(400, "InvalidReceipt", f"items[{n}].articleName is required")
        if not (item.get("sku") or item.get("articleNumber")):
            raise SimError(400, "InvalidReceipt", f"items[{n}] needs sku or articleNumber")
        for field_name in ("quantity", "grossPaidPrice"):
            if not _is_number(item.get(field_name)):
                raise SimError(400, "InvalidReceipt", f"items[{n}].{field_name} must be a number")
        for discount in item.get("discounts") or []:
            if not isinstance(discount, dict) or not _is_number(discount.get("value")):
                raise SimError(400, "InvalidReceipt", f"items[{n}].discounts[] need a numeric value")
        paid_by_items += float(item["grossPaidPrice"])
    paid = 0.0
    for n, payment in enumerate(payments, start=1):
        if not isinstance(payment, dict) or not isinstance(payment.get("type"), str) or not payment["type"]:
            raise SimError(400, "InvalidReceipt", f"paymentMethods[{n}] needs a type")
        if not _is_number(payment.get("value")):
            raise SimError(400, "InvalidReceipt", f"paymentMethods[{n}].value must be a number")
        unknown = set(payment) - PAYMENT_FIELDS
        if unknown:
            raise SimError(400, "InvalidReceipt", f"paymentMethods[{n}]: unknown field(s) {', '.join(sorted(unknown))}")
        paid += float(payment["value"])
    for n, check in enumerate(body.get("usedBonusChecks") or [], start=1):
        if not isinstance(check, dict) or not isinstance(check.get("checkNumber"), str) or not check["checkNumber"]:
            raise SimError(400, "InvalidReceipt", f"usedBonusChecks[{n}] needs checkNumber")
    if abs(paid - float(gross)) > RECEIPT_PAYMENT_TOLERANCE:
        raise SimError(400, "InvalidReceipt", f"totalGrossPrice {gross} is not the sum of the payments ({paid:.2f})")
    if abs(paid_by_items - float(gross)) > RECEIPT_LINE_TOLERANCE * len(items):
        raise SimError(
            400,
            "InvalidReceipt",
            f"totalGrossPrice {gross} is not the sum of items' grossPaidPrice ({paid_by_items:.2f})",
        )
    return float(gross)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        offset = int(params.get("offset") or 0)
        count = int(params.get("count") or 100)
    except ValueError:
        raise SimError(400, "InvalidPaging") from None
    if offset < 0 or not 1 <= count <= 1000:
        raise SimError(400, "InvalidPaging")
    return offset, count
