"""The local HTTP API (v1) and the cashier panel, as a FastAPI app built around one ``Agent``."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..agent import Agent
from ..errors import AgentError
from ..metrics.route import add_metrics_route
from ..texts import message
from .api_routes import API_DESCRIPTION, API_TAGS, add_api_routes
from .security import SecurityMiddleware, SecurityPolicy
from .settings_routes import add_settings_routes

log = logging.getLogger(__name__)
STATIC_FILES = {
    "panel.js": "text/javascript",
    "panel_offers.js": "text/javascript",
    "enrol.js": "text/javascript",
    "panel.css": "text/css",
    "settings.js": "text/javascript",
    "settings.css": "text/css",
}


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
        description=API_DESCRIPTION,
        openapi_tags=API_TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    language = agent.config.agent.language

    def error(
        status: int, code: str, text: str | None = None, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": text or message(code, language)}}, status, headers)

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
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8): a body not understood
            return error(422, "invalid_request", f"{message('invalid_request', language)} (the body is not valid JSON)")
        code = {404: "not_found", 405: "invalid_request"}.get(exc.status_code, "invalid_request")
        return error(exc.status_code, code, headers=exc.headers)  # a 405 keeps its Allow header

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in request")
        return error(500, "internal_error")

    add_api_routes(app, agent)
    add_metrics_route(app, agent.metrics)

    # ---- cashier panel ---------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def panel() -> HTMLResponse:
        page = _static_text("panel.html")
        page = page.replace("{{TOKEN}}", html.escape(agent.current_token(), quote=True))
        page = page.replace("{{LANG}}", html.escape(language)).replace("{{VERSION}}", __version__)
        page = page.replace("{{IDLE_SECONDS}}", f"{agent.config.agent.panel_idle_seconds:g}")
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
