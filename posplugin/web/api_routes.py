"""The routes of the local API v1: each one declares its operationId, tag, answer model and every error it can
return (``api_errors``), so ``/openapi.json`` is a contract a POS vendor can generate a client from."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query, Request, Security
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from ..agent import Agent
from ..enrolment import EnrolmentService
from ..errors import AgentError
from ..events import Event
from ..texts import message
from .api_errors import error_responses
from .api_models import (
    EVENT_MODELS,
    Answer,
    EngageStateEvent,
    EnrolledMemberView,
    EnrolmentForm,
    ErrorBody,
    Health,
    MemberView,
    OpView,
    PointShopItems,
    PointShopPurchases,
    PointTransactionPage,
    PrintAnswer,
    QueueView,
)
from .api_requests import (
    ContactBody,
    EnrolBody,
    IdentifyBody,
    MemberId,
    PrintPurchaseBody,
    PrintRewardBody,
    PrintVoucherBody,
    PurchaseBody,
    ReprintBody,
    ResolveBody,
    RewardBody,
    VoucherId,
    VoucherOpBody,
)
from .promotion_requests import AssignmentId, PrintPromotionBody, PromotionOpBody
from .sale_models import PointAdjustmentBody, SaleBody

log = logging.getLogger(__name__)
SSE_HEARTBEAT = 15.0
M = TypeVar("M", bound=Answer)
S = TypeVar("S")


def supported(service: S | None, agent: Agent) -> S:
    """A capability of the loyalty backend in use, or 404 ``not_supported`` (fabric has no point shop): not a
    server error — on this backend the path names nothing."""
    if service is None:
        raise AgentError(
            404,
            "not_supported",
            f"{message('not_supported', agent.config.agent.language)} ({agent.backend.title})",
        )
    return service


API_DESCRIPTION = """Till-side loyalty agent (Voyado Engage or fabric Loyalty). Listens on 127.0.0.1 only.

Every call except `GET /api/v1/health` needs the `X-POS-Token` header (401 `unauthorized` without it). A body, when
sent, is JSON (`Content-Type: application/json`). Errors are `{"error": {"code", "message", "details?"}}`; each
operation lists its codes. Within v1 the contract only grows: new operations, new optional fields, new error codes
(CHANGELOG.md lists each change)."""

API_TAGS = [
    {"name": "health", "description": "for monitoring; no token"},
    {"name": "members", "description": "identify a scan, the member view, point transactions, enrolment"},
    {"name": "vouchers", "description": "redeem and reactivate, through the durable outbox"},
    {"name": "promotions", "description": "multichannel promotions: redeem at the till, through the durable outbox"},
    {"name": "ops", "description": "operations in the outbox and the queue"},
    {"name": "sales", "description": "sales to points: Engage receipts or fabric earns"},
    {"name": "points", "description": "point adjustments (Engage)"},
    {"name": "point-shop", "description": "items, purchases (Engage)"},
    {"name": "rewards", "description": "rewards issued from points at the till, and their undo (fabric)"},
    {"name": "printing", "description": "receipts and the cash drawer"},
    {"name": "events", "description": "Server-Sent Events for panels"},
]

EVENTS_DESCRIPTION = """A Server-Sent Events stream. Each event is `id: <n>`, `event: <type>`, `data: <JSON>`;
a comment line `: keep-alive` comes every 15 s. Types and their data (schemas in components):
- `hello` — first event of every stream: `EngageStateEvent`
- `status` — Engage went online/offline: `EngageStateEvent`
- `scan` — a hardware scan was identified (or failed): `ScanEvent`
- `member` — a member view fetched in the background: `MemberEvent`
- `op` — an operation changed state: `OpView`
- `sale` — a sale was captured: `SaleEvent`
- `queue` — the queue's counts changed (an op captured, retried, parked or resolved): `QueueCounts`
- `print` — a print job that waited for the printer was printed or given up: `PrintEvent`"""

# OpenAPI links: what an answer lets a client call next (schemathesis follows them in its stateful run).
_OP_ID = {"opId": "$response.body#/opId"}
_CONTACT = {"contactId": "$response.body#/contact/id"}
OP_LINKS = {
    "GetOp": {"operationId": "getOp", "parameters": _OP_ID},
    "RetryOp": {"operationId": "retryOp", "parameters": _OP_ID},
    "ParkOp": {"operationId": "parkOp", "parameters": _OP_ID},
    "ResolveOp": {"operationId": "resolveOp", "parameters": _OP_ID},
}
MEMBER_LINKS = {
    "GetMember": {"operationId": "getMember", "parameters": _CONTACT},
    "ListPointTransactions": {"operationId": "listPointTransactions", "parameters": _CONTACT},
    "ListPointShopItems": {"operationId": "listPointShopItems", "parameters": _CONTACT},
    "ListPointShopPurchases": {"operationId": "listPointShopPurchases", "parameters": _CONTACT},
    "RedeemFirstVoucher": {
        "operationId": "redeemVoucher",
        "parameters": {"voucherId": "$response.body#/vouchers/0/id"},
        "requestBody": {"contactId": "$response.body#/contact/id"},
    },
    "PrintBalance": {"operationId": "printBalance", "requestBody": {"contactId": "$response.body#/contact/id"}},
}
LINKS: dict[str, dict[str, Any]] = {
    "identifyMember": MEMBER_LINKS,
    "getMember": MEMBER_LINKS,
    "enrolMember": MEMBER_LINKS,
    "redeemVoucher": {
        **OP_LINKS,
        "ReactivateVoucher": {
            "operationId": "reactivateVoucher",
            "parameters": {"voucherId": "$response.body#/voucherId"},
            "requestBody": {"contactId": "$response.body#/contactId"},
        },
    },
    **{
        operation: OP_LINKS
        for operation in (
            "reactivateVoucher",
            "submitSale",
            "adjustPoints",
            "purchasePointShopItem",
            "getOp",
            "redeemPromotion",
        )
    },
}

token_scheme = APIKeyHeader(
    name="X-POS-Token",
    scheme_name="posToken",
    description="the local API token (`posplugin secrets get api-token`)",
    auto_error=False,  # the security middleware checks it, before any route runs
)


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


def answer(model: type[M], data: Mapping[str, Any]) -> M:
    """A service's answer as its contract model: a drift is a bug here, never a surprise for the POS."""
    return model.model_validate(data)


def encode_event(event: Event) -> bytes | None:
    model = EVENT_MODELS.get(event.name)
    if model is None:
        log.error("event %s has no model in the contract; not sent", event.name)
        return None
    try:
        data = model.model_validate(event.data).model_dump_json(exclude_unset=True)
    except ValidationError:
        log.exception("event %s does not fit its model; not sent", event.name)
        return None
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode()


def add_api_routes(app: FastAPI, agent: Agent) -> None:
    api = APIRouter(prefix="/api/v1", dependencies=[Security(token_scheme)])

    def route(
        method: str,
        url: str,
        operation_id: str,
        tag: str,
        *,
        status_code: int = 200,
        codes: tuple[str, ...] = (),
        **flags: bool,
    ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        return api.api_route(
            url,
            methods=[method],
            operation_id=operation_id,
            tags=[tag],
            status_code=status_code,
            # Every state change passes the body checks (size, JSON), whether or not it takes a body.
            responses={
                **error_responses(*codes, body=method == "POST", **flags),
                **({status_code: {"links": LINKS[operation_id]}} if operation_id in LINKS else {}),
            },
            response_model_exclude_unset=True,  # a field a service leaves out stays out, as before
        )

    @app.get(
        "/api/v1/health",
        operation_id="getHealth",
        tags=["health"],
        responses=error_responses(token=False, inputs=False),
        response_model_exclude_unset=True,
    )
    async def health() -> Health:
        return answer(Health, await agent.health())

    member_lookup = (
        "invalid_code",
        "member_not_found",
        "multiple_members",
        "loyalty_offline",
        "loyalty_busy",
        "loyalty_error",
    )
    member_errors = (*member_lookup, "loyalty_auth")

    search_errors = ("invalid_email", "invalid_mobilePhone", "member_not_found_search", "loyalty_offline_search")

    @route("POST", "/identify", "identifyMember", "members", codes=(*member_errors, *search_errors))
    async def identify(body: IdentifyBody) -> MemberView:
        if body.lookupKey is not None:
            return answer(
                MemberView, await agent.metrics.timed_identify(agent.members.search(body.code, body.lookupKey))
            )
        return answer(MemberView, await agent.metrics.timed_identify(agent.members.identify(body.code)))

    @route("GET", "/members/{contactId}", "getMember", "members", path=True, codes=member_errors)
    async def member(contactId: Annotated[MemberId, Path()]) -> MemberView:
        return answer(MemberView, await agent.members.member(contactId))

    enrol_errors = (
        "invalid_email",
        "invalid_mobilePhone",
        "multiple_members",
        "op_id_conflict",
        "enrolment_disabled",
        "enrolment_offline",
        "enrolment_unconfirmed",
        "loyalty_error",
        "loyalty_auth",
        "not_supported",
    )

    @route("POST", "/members", "enrolMember", "members", codes=enrol_errors)
    async def enrol(body: EnrolBody) -> EnrolledMemberView:
        enrolment = supported(agent.enrolment, agent)
        return answer(EnrolledMemberView, await enrolment.enrol(body.to_request(), body.opId))

    @route("GET", "/enrolment", "getEnrolmentForm", "members", inputs=False)
    async def enrolment_form() -> EnrolmentForm:
        form = agent.enrolment.form() if agent.enrolment is not None else EnrolmentService.unavailable_form()
        return answer(EnrolmentForm, form)

    @route(
        "GET",
        "/members/{contactId}/point-transactions",
        "listPointTransactions",
        "members",
        path=True,
        codes=("loyalty_offline", "loyalty_error", "loyalty_auth"),
    )
    async def point_transactions(
        contactId: Annotated[MemberId, Path()],
        filter: Annotated[Literal["all", "active", "pending"], Query()] = "all",
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        count: Annotated[int, Query(ge=1, le=200)] = 50,
        accountId: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> PointTransactionPage:
        page = await agent.members.point_transactions(contactId, filter, offset, count, accountId)
        return answer(PointTransactionPage, page)

    voucher_op_errors = ("voucher_not_owned", "voucher_busy", "op_id_conflict", "not_supported")

    @route(
        "POST",
        "/vouchers/{voucherId}/redeem",
        "redeemVoucher",
        "vouchers",
        path=True,
        codes=voucher_op_errors,
    )
    async def redeem(voucherId: Annotated[VoucherId, Path()], body: VoucherOpBody) -> OpView:
        return answer(OpView, await supported(agent.redemptions, agent).redeem(voucherId, body.contactId, body.opId))

    @route(
        "POST",
        "/vouchers/{voucherId}/reactivate",
        "reactivateVoucher",
        "vouchers",
        path=True,
        codes=voucher_op_errors,
    )
    async def reactivate(voucherId: Annotated[VoucherId, Path()], body: VoucherOpBody) -> OpView:
        vouchers = supported(agent.redemptions, agent)
        return answer(OpView, await vouchers.reactivate(voucherId, body.contactId, body.opId))

    promotion_op_errors = ("member_not_found", "promotion_not_owned", "promotion_busy", "op_id_conflict")

    @route(
        "POST",
        "/promotions/{assignmentId}/redeem",
        "redeemPromotion",
        "promotions",
        path=True,
        codes=promotion_op_errors,
    )
    async def redeem_promotion(assignmentId: Annotated[AssignmentId, Path()], body: PromotionOpBody) -> OpView:
        return answer(OpView, await supported(agent.promotions, agent).redeem(assignmentId, body.contactId, body.opId))

    @route(
        "POST",
        "/sales",
        "submitSale",
        "sales",
        status_code=202,
        codes=(*member_lookup, "invalid_sale", "card_data_refused", "sale_conflict"),
    )
    async def sale(body: SaleBody) -> OpView:
        return answer(OpView, await agent.sales.submit(body.to_request()))

    @route(
        "POST",
        "/members/{contactId}/point-adjustments",
        "adjustPoints",
        "points",
        path=True,
        codes=("op_id_conflict", "not_supported"),
    )
    async def point_adjustment(contactId: Annotated[MemberId, Path()], body: PointAdjustmentBody) -> OpView:
        op = await supported(agent.point_adjustments, agent).adjust(
            contactId, body.amount, body.description, body.definitionId, body.validFrom, body.validTo, body.opId
        )
        return answer(OpView, op)

    @route("GET", "/ops/{opId}", "getOp", "ops", path=True)
    async def op(opId: str) -> OpView:
        return answer(OpView, await agent.ops.get(opId))

    @route("POST", "/ops/{opId}/retry", "retryOp", "ops", path=True, codes=("op_state",))
    async def retry_op(opId: str) -> OpView:
        return answer(OpView, await agent.ops.retry(opId))

    @route("POST", "/ops/{opId}/park", "parkOp", "ops", path=True, codes=("op_state",))
    async def park_op(opId: str) -> OpView:
        return answer(OpView, await agent.ops.park(opId))

    @route("POST", "/ops/{opId}/resolve", "resolveOp", "ops", path=True, codes=("op_state",))
    async def resolve_op(opId: str, body: ResolveBody) -> OpView:
        return answer(OpView, await agent.ops.resolve(opId, body.note))

    @route(
        "POST",
        "/members/{contactId}/rewards",
        "redeemReward",
        "rewards",
        path=True,
        codes=("loyalty_offline", "loyalty_not_configured", "op_id_conflict", "not_supported"),
    )
    async def redeem_reward(contactId: Annotated[MemberId, Path()], body: RewardBody) -> OpView:
        return answer(OpView, await supported(agent.rewards, agent).redeem(contactId, body.amount, body.opId))

    @route("POST", "/ops/{opId}/undo", "undoReward", "rewards", path=True, codes=("op_state", "not_supported"))
    async def undo_reward(opId: str) -> OpView:
        return answer(OpView, await supported(agent.rewards, agent).undo(opId))

    @route("GET", "/queue", "getQueue", "ops", inputs=False)
    async def queue() -> QueueView:
        return answer(QueueView, await agent.ops.queue())

    shop_errors = ("member_not_found", "loyalty_offline", "loyalty_error", "loyalty_auth", "not_supported")

    @route(
        "GET", "/members/{contactId}/point-shop/items", "listPointShopItems", "point-shop", path=True, codes=shop_errors
    )
    async def point_shop_items(contactId: Annotated[MemberId, Path()]) -> PointShopItems:
        return answer(PointShopItems, await supported(agent.point_shop, agent).items(contactId))

    @route(
        "POST",
        "/members/{contactId}/point-shop/purchases",
        "purchasePointShopItem",
        "point-shop",
        path=True,
        codes=(*shop_errors, "op_id_conflict"),
    )
    async def point_shop_purchase(contactId: Annotated[MemberId, Path()], body: PurchaseBody) -> OpView:
        return answer(OpView, await supported(agent.point_shop, agent).purchase(contactId, body.itemId, body.opId))

    @route(
        "GET",
        "/members/{contactId}/point-shop/purchases",
        "listPointShopPurchases",
        "point-shop",
        path=True,
        codes=shop_errors,
    )
    async def point_shop_purchases(contactId: Annotated[MemberId, Path()]) -> PointShopPurchases:
        return answer(PointShopPurchases, await supported(agent.point_shop, agent).purchases(contactId))

    printer_errors = (
        "printer_not_configured",
        "printer_config",
        "printer_offline",
        "printer_paper_out",
        "printer_cover_open",
    )
    member_print_errors = (*printer_errors, "member_not_found", "loyalty_offline", "loyalty_error", "loyalty_auth")

    @route(
        "POST",
        "/print/point-shop-purchase",
        "printPointShopPurchase",
        "printing",
        codes=(*member_print_errors, "not_found", "not_completed"),
    )
    async def print_point_shop(body: PrintPurchaseBody) -> PrintAnswer:
        return answer(PrintAnswer, await supported(agent.point_shop, agent).print_receipt(body.contactId, body.opId))

    @route(
        "POST",
        "/print/voucher",
        "printVoucher",
        "printing",
        codes=(*member_print_errors, "voucher_not_found"),
    )
    async def print_voucher(body: PrintVoucherBody) -> PrintAnswer:
        return answer(PrintAnswer, await agent.receipts.print_voucher(body.contactId, body.voucherId))

    @route(
        "POST",
        "/print/promotion",
        "printPromotion",
        "printing",
        codes=(*member_print_errors, "promotion_not_found"),
    )
    async def print_promotion(body: PrintPromotionBody) -> PrintAnswer:
        return answer(
            PrintAnswer, await supported(agent.promotions, agent).print_receipt(body.contactId, body.assignmentId)
        )

    @route(
        "POST",
        "/print/reward",
        "printReward",
        "printing",
        codes=(*member_print_errors, "not_found", "not_completed", "not_supported"),
    )
    async def print_reward(body: PrintRewardBody) -> PrintAnswer:
        supported(agent.rewards, agent)  # rewards are fabric's: on Engage this is 404 not_supported
        return answer(PrintAnswer, await agent.receipts.print_reward(body.contactId, body.opId))

    @route("POST", "/print/balance", "printBalance", "printing", codes=member_print_errors)
    async def print_balance(body: ContactBody) -> PrintAnswer:
        return answer(PrintAnswer, await agent.receipts.print_balance(body.contactId))

    @route(
        "POST",
        "/print/reprint",
        "reprintLast",
        "printing",
        codes=(*printer_errors, "nothing_to_reprint", "nothing_to_reprint_member"),
    )
    async def reprint(body: ReprintBody | None = None) -> PrintAnswer:
        contact = body.contactId if body is not None else None
        return answer(PrintAnswer, await agent.receipts.reprint(contact))

    @route("POST", "/print/test", "printTestPage", "printing", inputs=False, codes=printer_errors)
    async def test_print() -> PrintAnswer:
        return answer(PrintAnswer, await agent.receipts.test_print())

    @route("POST", "/drawer/open", "openDrawer", "printing", inputs=False, codes=printer_errors)
    async def open_drawer() -> PrintAnswer:
        return answer(PrintAnswer, await agent.receipts.drawer_kick())

    @api.get(
        "/events",
        operation_id="streamEvents",
        tags=["events"],
        response_class=EventStream,
        responses={200: {"description": EVENTS_DESCRIPTION}, **error_responses(inputs=False)},
    )
    async def events(request: Request) -> EventStream:
        queue = agent.events.subscribe()

        async def stream() -> AsyncIterator[bytes]:
            try:
                hello = EngageStateEvent.model_validate({"engage": agent.status.state})
                yield f"event: hello\ndata: {hello.model_dump_json()}\n\n".encode()
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), SSE_HEARTBEAT)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if event.name == agent.events.CLOSE:
                        return
                    encoded = encode_event(event)
                    if encoded is not None:
                        yield encoded
            finally:
                agent.events.unsubscribe(queue)

        return EventStream(stream(), headers={"X-Accel-Buffering": "no"})

    app.include_router(api)
    publish_extra_schemas(app)


def publish_extra_schemas(app: FastAPI) -> None:
    """The document also carries the error body and the event models, which no route returns as JSON."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            published: list[type[BaseModel]] = [ErrorBody, *EVENT_MODELS.values()]
            models: list[tuple[type[BaseModel], Literal["serialization"]]] = [(m, "serialization") for m in published]
            _, extra = models_json_schema(models, ref_template="#/components/schemas/{model}")
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in extra.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
