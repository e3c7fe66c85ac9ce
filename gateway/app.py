"""The FastAPI application: the routers, the edge middleware (`gateway.edge`) and the error handlers that
answer every domain error from the one table in `gateway.problems`, telling the request's Turn.

Example:
    app = create_app(Services.build(settings))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import api_feedback, api_inventory, api_prompts, api_runbooks, openapi, ui
from gateway import api_routing as routing_api
from gateway.api import router
from gateway.api_tools import router as tools_router
from gateway.edge import Edge
from gateway.problems import DOMAIN_ERRORS, as_domain_error, problem, problem_for
from gateway.services import Services
from gateway.slack.http import router as slack_router
from guardrails import GuardrailError
from routing import RoutingError

__all__ = ["create_app"]


def create_app(svc: Services) -> FastAPI:
    """Build the gateway app over already-built services."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await svc.router.aclose()  # the upstream pool lives on this loop: close it before the loop goes

    app = FastAPI(
        title="NetOps Assistant gateway", version="0.1.0", docs_url="/docs", redoc_url=None, lifespan=lifespan
    )
    app.state.svc = svc
    app.include_router(router)
    app.include_router(ui.router)
    app.include_router(tools_router)
    app.include_router(routing_api.router)
    app.include_router(api_runbooks.router)
    app.include_router(api_inventory.router)
    app.include_router(api_feedback.router)
    app.include_router(api_prompts.router)
    app.include_router(slack_router)  # POST /slack/events: 404 until a bot is attached (app.state.slack)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for base in DOMAIN_ERRORS:  # by class, not `Exception`: Starlette re-raises whatever reaches `Exception`
        app.add_exception_handler(base, _domain_error)
    app.add_middleware(Edge, max_body=svc.settings.server.max_body_bytes, svc=svc)
    openapi.install(app)
    return app


def _answer(request: Request, response: JSONResponse, code: str, detail: str) -> JSONResponse:
    turn = request.scope.get("state", {}).get("turn")
    if turn is not None:
        turn.reject(response.status_code, code, detail)
    return response


def _rid(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    response = problem(
        422, "Invalid request", "invalid_request", "the request does not validate", _rid(request), errors=errors
    )
    return _answer(request, response, "invalid_request", "")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    response = problem(exc.status_code, str(exc.detail), code, str(exc.detail), _rid(request))
    return _answer(request, response, code, str(exc.detail))


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    # only our own wording goes to the audit record: tool and request errors may quote the caller's values
    exc = as_domain_error(exc)
    detail = getattr(exc, "detail", "") if isinstance(exc, GuardrailError | RoutingError) else ""
    return _answer(request, problem_for(exc, _rid(request)), getattr(exc, "code", "error"), detail)
