"""The local HTTP API (v1) and the cashier panel, as a FastAPI app built around one ``Agent``."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..agent import Agent
from ..errors import AgentError
from ..scan_codes import GUID_RE
from ..texts import message
from .sale_models import PointAdjustmentBody, SaleBody
from .security import SecurityMiddleware, SecurityPolicy
from .settings_routes import add_settings_routes

log = logging.getLogger(__name__)
SSE_HEARTBEAT = 15.0
STATIC_FILES = {
    "panel.js": "text/javascript",
    "panel.css": "text/css",
    "settings.js": "text/javascript",
    "settings.css": "text/css",
}


class IdentifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=4096, description="The raw scanned text")
    lookupKey: Literal["email", "mobilePhone"] | None = Field(
        default=None, description="Search by this key (a typed e-mail or phone) instead of the scan rules"
    )


class PrintVoucherBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contactId: str = Field(min_length=1, max_length=64)
    voucherId: str = Field(min_length=1, max_length=64)


class ContactBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contactId: str = Field(min_length=1, max_length=64)


class PurchaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    itemId: str = Field(min_length=1, max_length=64)
    opId: str | None = Field(default=None, min_length=1, max_length=64)


class PrintPurchaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contactId: str = Field(min_length=1, max_length=64)
    opId: str = Field(min_length=1, max_length=64)


class ReprintBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contactId: str | None = Field(default=None, min_length=1, max_length=64)


class EmptyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoucherOpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contactId: str = Field(min_length=1, max_length=64)
    opId: str | None = Field(default=None, min_length=1, max_length=64)


def create_app(agent: Agent, *, manage_lifecycle: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await agent.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await agent.stop()

    app = FastAPI(
        title="posplugin local API",
        version=__version__,
        description="Till-side loyalty agent for Voyado Engage. All /api/v1 calls except health need X-POS-Token.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    language = agent.config.agent.language

    def error(status: int, code: str, text: str | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": text or message(code, language)}}, status)

    @app.exception_handler(AgentError)
    async def agent_error(_: Request, exc: AgentError) -> JSONResponse:
        return JSONResponse(exc.to_json(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return error(422, "invalid_request", f"{message('invalid_request', language)} (the body is not valid JSON)")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid JSON"))
        return error(422, "invalid_request", f"{message('invalid_request', language)} ({detail})")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "invalid_request"}.get(exc.status_code, "invalid_request")
        return error(exc.status_code, code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in request")
        return error(500, "internal_error")

    # ---- API -------------------------------------------------------------------------------------------

    @app.get("/api/v1/health")
    async def health() -> dict[str, Any]:
        return await agent.health()

    @app.post("/api/v1/identify")
    async def identify(body: IdentifyBody) -> dict[str, Any]:
        if body.lookupKey is not None:
            return await agent.members.search(body.code, body.lookupKey)
        return await agent.members.identify(body.code)

    @app.get("/api/v1/members/{contact_id}")
    async def member(contact_id: str) -> dict[str, Any]:
        return await agent.members.member(_contact_id(contact_id, language))

    @app.get("/api/v1/members/{contact_id}/point-transactions")
    async def point_transactions(
        contact_id: str,
        filter: Annotated[str, Query()] = "all",
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        count: Annotated[int, Query(ge=1, le=200)] = 50,
        accountId: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        return await agent.members.point_transactions(
            _contact_id(contact_id, language), filter, offset, count, accountId
        )

    @app.post("/api/v1/vouchers/{voucher_id}/redeem")
    async def redeem(voucher_id: str, body: VoucherOpBody) -> dict[str, Any]:
        return await agent.redemptions.redeem(voucher_id, body.contactId, body.opId)

    @app.post("/api/v1/vouchers/{voucher_id}/reactivate")
    async def reactivate(voucher_id: str, body: VoucherOpBody) -> dict[str, Any]:
        return await agent.redemptions.reactivate(voucher_id, body.contactId, body.opId)

    @app.post("/api/v1/sales", status_code=202)
    async def sale(body: SaleBody) -> dict[str, Any]:
        return await agent.sales.submit(body.to_request())

    @app.post("/api/v1/members/{contact_id}/point-adjustments")
    async def point_adjustment(contact_id: str, body: PointAdjustmentBody) -> dict[str, Any]:
        return await agent.point_adjustments.adjust(
            _contact_id(contact_id, language),
            body.amount,
            body.description,
            body.definitionId,
            body.validFrom,
            body.validTo,
            body.opId,
        )

    @app.get("/api/v1/ops/{op_id}")
    async def op(op_id: str) -> dict[str, Any]:
        return await agent.redemptions.get(op_id)

    @app.post("/api/v1/ops/{op_id}/retry")
    async def retry_op(op_id: str) -> dict[str, Any]:
        return await agent.redemptions.retry(op_id)

    @app.post("/api/v1/ops/{op_id}/park")
    async def park_op(op_id: str) -> dict[str, Any]:
        return await agent.redemptions.park(op_id)

    @app.get("/api/v1/queue")
    async def queue() -> dict[str, Any]:
        return await agent.redemptions.queue()

    @app.get("/api/v1/members/{contact_id}/point-shop/items")
    async def point_shop_items(contact_id: str) -> dict[str, Any]:
        return await agent.point_shop.items(_contact_id(contact_id, language))

    @app.post("/api/v1/members/{contact_id}/point-shop/purchases")
    async def point_shop_purchase(contact_id: str, body: PurchaseBody) -> dict[str, Any]:
        return await agent.point_shop.purchase(_contact_id(contact_id, language), body.itemId, body.opId)

    @app.get("/api/v1/members/{contact_id}/point-shop/purchases")
    async def point_shop_purchases(contact_id: str) -> dict[str, Any]:
        return await agent.point_shop.purchases(_contact_id(contact_id, language))

    @app.post("/api/v1/print/point-shop-purchase")
    async def print_point_shop(body: PrintPurchaseBody) -> dict[str, Any]:
        return await agent.point_shop.print_receipt(_contact_id(body.contactId, language), body.opId)

    @app.post("/api/v1/print/voucher")
    async def print_voucher(body: PrintVoucherBody) -> dict[str, Any]:
        return await agent.receipts.print_voucher(
            _contact_id(body.contactId, language), _guid(body.voucherId, "voucherId", language)
        )

    @app.post("/api/v1/print/balance")
    async def print_balance(body: ContactBody) -> dict[str, Any]:
        return await agent.receipts.print_balance(_contact_id(body.contactId, language))

    @app.post("/api/v1/print/reprint")
    async def reprint(body: ReprintBody | None = None) -> dict[str, Any]:
        contact = body.contactId if body is not None else None
        return await agent.receipts.reprint(_contact_id(contact, language) if contact is not None else None)

    @app.post("/api/v1/print/test")
    async def test_print(body: EmptyBody | None = None) -> dict[str, Any]:
        return await agent.receipts.test_print()

    @app.post("/api/v1/drawer/open")
    async def open_drawer(body: EmptyBody | None = None) -> dict[str, Any]:
        return await agent.receipts.drawer_kick()

    @app.get("/api/v1/events")
    async def events(request: Request) -> StreamingResponse:
        queue = agent.events.subscribe()

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield f'event: hello\ndata: {{"engage":"{agent.status.state}"}}\n\n'.encode()
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), SSE_HEARTBEAT)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if event.name == agent.events.CLOSE:
                        return
                    yield event.encode()
            finally:
                agent.events.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    # ---- cashier panel ---------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def panel() -> HTMLResponse:
        page = _static_text("panel.html")
        page = page.replace("{{TOKEN}}", html.escape(agent.current_token(), quote=True))
        page = page.replace("{{LANG}}", html.escape(language)).replace("{{VERSION}}", __version__)
        page = page.replace("{{IDLE_SECONDS}}", f"{agent.config.agent.panel_idle_seconds:g}")
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return error(404, "not_found")
        return Response(_static_text(name), media_type=STATIC_FILES[name])

    policy = SecurityPolicy(
        port=agent.config.agent.port,
        allowed_origins=frozenset(agent.config.api.allowed_origins),
        token=agent.current_token,
        max_body_bytes=agent.config.api.max_body_bytes,
        language=language,
    )
    add_settings_routes(app, agent, policy, _static_text)
    app.add_middleware(SecurityMiddleware, policy=policy)
    app.state.agent = agent
    app.state.policy = policy
    return app


def _static_text(name: str) -> str:
    return resources.files("posplugin.web").joinpath("static", name).read_text(encoding="utf-8")


def _guid(value: str, name: str, language: str) -> str:
    if not GUID_RE.fullmatch(value):
        raise AgentError(422, "invalid_request", f"{message('invalid_request', language)} ({name} is not a GUID)")
    return value.lower()


def _contact_id(value: str, language: str) -> str:
    return _guid(value, "contactId", language)
