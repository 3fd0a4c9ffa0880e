"""The store manager's settings page (``/settings``) and its JSON calls (``/settings/api/*``).

Not under ``/api/v1``: these calls are authorised by the manager's session cookie, not by the POS token. Every
state change also needs the session's CSRF token in ``X-CSRF-Token`` and a JSON body, and is refused from any
origin other than the agent's own (POS origins allowed for the cashier API get nothing here).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..agent import Agent
from ..errors import AgentError
from ..settings import SettingsService
from ..texts import message
from .api_routes import supported
from .manager_sessions import COOKIE, ManagerSession, ManagerSessions, cookie_header
from .security import SecurityPolicy


class PinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str = Field(min_length=1, max_length=64)


class PinChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current: str = Field(min_length=1, max_length=64)
    new: str = Field(min_length=1, max_length=64)


class SectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any]
    apiKey: str | None = Field(
        default=None, min_length=1, max_length=1024, description="the vendor's credential: required with a new address"
    )


class ApiKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apiKey: str = Field(min_length=1, max_length=1024)


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=4096)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=500)


class AdjustBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = Field(min_length=1, max_length=4096, description="a scanned card or a contactId")
    amount: int = Field(ge=-1_000_000, le=1_000_000)
    description: str = Field(min_length=1, max_length=200)


class EmptyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


def add_settings_routes(app: FastAPI, agent: Agent, policy: SecurityPolicy, static_text: Any) -> None:
    sessions = ManagerSessions()
    settings = SettingsService(agent)
    app.state.manager_sessions = sessions

    def fail(status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, agent.config.agent.language))

    def same_origin(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin not in policy.own_origins:
            raise fail(403, "forbidden_origin")

    def json_only(request: Request) -> None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise fail(415, "unsupported_media_type")

    def manager(request: Request, response: Response) -> ManagerSession:
        same_origin(request)
        session = sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise fail(401, "login_required")
        if request.method != "GET":
            json_only(request)
            if not sessions.csrf_ok(session, request.headers.get("x-csrf-token")):
                raise fail(403, "csrf_failed")
        # Sliding idle expiry: the server slid the session, so the browser's cookie must slide with it.
        response.headers["set-cookie"] = cookie_header(session)
        return session

    def logged_in(session: ManagerSession, body: dict[str, Any] | None = None) -> JSONResponse:
        response = JSONResponse({**(body or {}), "csrf": session.csrf}, headers={"Cache-Control": "no-store"})
        response.headers["set-cookie"] = cookie_header(session)
        return response

    router = APIRouter(prefix="/settings/api", include_in_schema=False)
    needs_manager = [Depends(manager)]

    @router.get("/session")
    async def session_state(request: Request) -> dict[str, Any]:
        same_origin(request)
        session = sessions.get(request.cookies.get(COOKIE))
        return {
            "pinSet": agent.pin.is_set,
            "loggedIn": session is not None,
            "csrf": session.csrf if session else None,
            "lockedForSeconds": round(await agent.pin.guard.locked_for()),
            "language": agent.config.agent.language,
        }

    @router.post("/pin/setup")
    async def pin_setup(request: Request, body: PinBody) -> JSONResponse:
        same_origin(request)
        json_only(request)
        await agent.pin.set_first(body.pin)
        agent.redactor.add_secret(body.pin)  # only a PIN that is now the PIN: guesses are not secrets
        return logged_in(sessions.create(), {"pinSet": True})

    @router.post("/login")
    async def login(request: Request, body: PinBody) -> JSONResponse:
        same_origin(request)
        json_only(request)
        await agent.pin.check(body.pin)
        agent.redactor.add_secret(body.pin)  # verified: an unauthenticated guess must not become a "secret"
        return logged_in(sessions.create())

    @router.post("/logout")
    async def logout(request: Request) -> JSONResponse:
        same_origin(request)
        sessions.drop(request.cookies.get(COOKIE))
        response = JSONResponse({"loggedIn": False})
        response.headers["set-cookie"] = cookie_header(None)
        return response

    @router.post("/pin/change", dependencies=needs_manager)
    async def pin_change(body: PinChangeBody) -> dict[str, Any]:
        await agent.pin.change(body.current, body.new)
        agent.redactor.add_secret(body.new)
        return {"changed": True}

    @router.get("/state", dependencies=needs_manager)
    async def state() -> dict[str, Any]:
        return settings.view()

    @router.post("/sections/{section}", dependencies=needs_manager)
    async def save_section(section: str, body: SectionBody) -> dict[str, Any]:
        result = await settings.save(section, body.values, body.apiKey)
        if section == "api":
            policy.allowed_origins = frozenset(agent.config.api.allowed_origins)
        return {**result, "state": settings.view()}

    @router.post("/api-key", dependencies=needs_manager)
    async def api_key(body: ApiKeyBody) -> dict[str, Any]:
        return settings.set_api_key(body.apiKey)

    @router.post("/test-connection", dependencies=needs_manager)
    async def test_connection(body: EmptyBody) -> dict[str, Any]:
        return await settings.test_connection()

    @router.post("/test-print", dependencies=needs_manager)
    async def test_print(body: EmptyBody) -> dict[str, Any]:
        return await agent.receipts.test_print()

    @router.get("/scan/last", dependencies=needs_manager)
    async def last_scan() -> dict[str, Any]:
        return settings.last_scan()

    @router.post("/scan/normalise", dependencies=needs_manager)
    async def normalise(body: CodeBody) -> dict[str, Any]:
        return settings.normalise(body.code)

    @router.get("/queue", dependencies=needs_manager)
    async def queue() -> dict[str, Any]:
        return await agent.ops.queue()

    @router.post("/ops/{op_id}/retry", dependencies=needs_manager)
    async def retry(op_id: str, body: EmptyBody) -> dict[str, Any]:
        return await agent.ops.retry(op_id)

    @router.post("/ops/{op_id}/park", dependencies=needs_manager)
    async def park(op_id: str, body: EmptyBody) -> dict[str, Any]:
        return await agent.ops.park(op_id)

    @router.post("/ops/{op_id}/resolve", dependencies=needs_manager)
    async def resolve(op_id: str, body: NoteBody) -> dict[str, Any]:
        return await agent.ops.resolve(op_id, body.note)

    @router.post("/point-adjustments", dependencies=needs_manager)
    async def adjust_points(body: AdjustBody) -> dict[str, Any]:
        view = await agent.members.identify(body.member)
        contact = view["contact"]
        op = await supported(agent.point_adjustments, agent).adjust(contact["id"], body.amount, body.description)
        name = f"{contact.get('firstName', '')} {contact.get('lastName', '')}".strip()
        return {**op, "memberName": name}

    @router.get("/logs", dependencies=needs_manager)
    async def logs() -> dict[str, Any]:
        return settings.log_tail()

    @router.post("/token/rotate", dependencies=needs_manager)
    async def rotate_token(body: EmptyBody) -> dict[str, Any]:
        return {"token": agent.rotate_token()}

    app.include_router(router)

    @app.get("/settings", response_class=HTMLResponse, include_in_schema=False)
    async def settings_page() -> HTMLResponse:
        page = static_text("settings.html").replace("{{LANG}}", agent.config.agent.language)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})
