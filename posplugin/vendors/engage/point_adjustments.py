"""Manual point adjustments: one at a time for store managers (through the outbox), many at once for IT (CSV).

A single adjustment is captured with a ``transactionId`` made here, once, and delivered like a redemption
(durable, retried, reconciled, visible in the queue). A bulk import goes straight to Engage's bulk endpoint in
chunks of at most 1000 rows and reports, by CSV line, every row the agent or Engage did not accept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...errors import AgentError
from ...loyalty.kinds import POINT_ADJUSTMENT
from ...ops import OpService, checked_op_id
from ...outbox.store import OutboxStore
from . import EngageClient, EngageError
from .client import BULK_LIMIT
from .ids import GUID_RE, checked_guid

CSV_COLUMNS = ("contactId", "amount", "definitionId", "description", "source", "validFrom", "validTo", "timeStamp")
REQUIRED_COLUMNS = ("contactId", "amount")


class PointAdjustmentService:
    def __init__(self, store: OutboxStore, ops: OpService, language: str, clock: Callable[[], float]) -> None:
        self.store = store
        self.ops = ops
        self.language = language
        self.clock = clock

    async def adjust(
        self,
        contact_id: str,
        amount: int,
        description: str,
        definition_id: int = 1,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        op_id: str | None = None,
    ) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId")
        op_id = checked_op_id(op_id)
        if amount == 0:
            raise AgentError(422, "invalid_request", "an adjustment of 0 points changes nothing")
        payload: dict[str, Any] = {"amount": amount, "description": description, "definitionId": definition_id}
        for key, value in (("validFrom", valid_from), ("validTo", valid_to)):
            if value is not None:
                payload[key] = value.isoformat()

        async def create() -> dict[str, Any]:
            op, _ = await self.store.capture(
                op_id=op_id,
                kind=POINT_ADJUSTMENT,
                target_id=str(uuid.uuid4()),  # the transactionId: made once, sent on every retry
                contact_id=contact_id,
                now=self.clock(),
                request=payload,
                payload=payload,
            )
            return await self.ops.answer(op)

        return await self.ops.once(op_id, POINT_ADJUSTMENT, contact_id, payload, "", create)


# ---- bulk import from CSV (IT) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    line: int  # line in the CSV file (the header is line 1)
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    chunks_sent: int = 0
    accepted: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    failed_chunk: tuple[int, int] | None = None  # CSV lines of the chunk whose fate is unknown
    not_sent: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.rejected and self.failed_chunk is None


def parse_csv(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RejectedRow]]:
    """Rows ready for Engage (with their CSV line numbers) and the rows refused locally, with why."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        raise ValueError(f"CSV header: {'; '.join(problems)} (columns: {', '.join(CSV_COLUMNS)})")
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[RejectedRow] = []
    for record in reader:
        line = reader.line_num
        try:
            good.append((line, _row(record)))
        except ValueError as exc:
            bad.append(RejectedRow(line, str(exc)))
    return good, bad


def _row(record: dict[str, str | None]) -> dict[str, Any]:
    contact = (record.get("contactId") or "").strip()
    if not GUID_RE.fullmatch(contact):
        raise ValueError("contactId is not a GUID")
    try:
        amount = int((record.get("amount") or "").strip())
    except ValueError:
        raise ValueError("amount is not a whole number") from None
    if amount == 0:
        raise ValueError("amount is 0")
    definition = (record.get("definitionId") or "1").strip() or "1"
    if not definition.isdigit():
        raise ValueError("definitionId is not a number")
    row: dict[str, Any] = {
        "contactId": contact.lower(),
        "amount": amount,
        "definitionId": int(definition),
        "source": (record.get("source") or "Adjustment").strip() or "Adjustment",
        "description": (record.get("description") or "").strip()[:200],
    }
    for key in ("validFrom", "validTo", "timeStamp"):
        value = (record.get(key) or "").strip()
        if value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{key} is not an ISO 8601 time") from None
            if parsed.tzinfo is None:
                raise ValueError(f"{key} needs a UTC offset")
            row[key] = parsed.isoformat()
    return row


def chunks(rows: Sequence[tuple[int, dict[str, Any]]], size: int = BULK_LIMIT) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def import_rows(
    client: EngageClient, rows: Sequence[tuple[int, dict[str, Any]]], report: ImportReport, source_digest: str
) -> ImportReport:
    """Send ``rows`` chunk by chunk; stop at the first chunk whose outcome is unknown (never guess and resend)."""
    report.rows += len(rows)
    for index, chunk in enumerate(chunks(rows)):
        body = [row for _, row in chunk]
        lines = [line for line, _ in chunk]
        # v2 honoured an Idempotency-Key for 24 h; sending one per chunk costs nothing where it is ignored.
        key = hashlib.sha256(f"{source_digest}:{index}".encode()).hexdigest()[:32]
        try:
            (result,) = await client.add_point_transactions_bulk(body, idempotency_key=key)
        except EngageError as exc:
            report.failed_chunk = (lines[0], lines[-1])
            remaining = rows[(index + 1) * BULK_LIMIT :]
            if remaining:
                report.not_sent = (remaining[0][0], remaining[-1][0])
            report.rejected.append(RejectedRow(lines[0], f"chunk {index + 1} failed: {exc}"))
            return report
        report.chunks_sent += 1
        refused = {int(i) for i in result.not_accepted if isinstance(i, int) and 0 <= i < len(chunk)}
        report.accepted += len(chunk) - len(refused)
        for i in sorted(refused):
            report.rejected.append(RejectedRow(lines[i], _engage_reason(body[i], result)))
    return report


def _engage_reason(row: dict[str, Any], result: Any) -> str:
    if row["contactId"] in {str(c).lower() for c in result.missing_contact_ids}:
        return "Engage does not know this contactId"
    if row["definitionId"] in result.missing_definition_ids:
        return "Engage does not know this definitionId"
    return "; ".join(result.error_messages) or "not accepted by Engage"
