"""The FastAPI application: middleware (request id, body limit, metrics) and the one error boundary.

Example:
    app = create_app(Services.build(settings))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import re
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import api_routing as routing_api
from gateway import ui
from gateway.api import router
from gateway.api_tools import router as tools_router
from gateway.problems import problem, problem_for
from gateway.services import Services

__all__ = ["create_app"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def create_app(svc: Services) -> FastAPI:
    """Build the gateway app over already-built services."""
    app = FastAPI(title="NetOps Assistant gateway", version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.svc = svc
    app.include_router(router)
    app.include_router(ui.router)
    app.include_router(tools_router)
    app.include_router(routing_api.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _any_error)
    app.add_middleware(_Edge, max_body=svc.settings.server.max_body_bytes, svc=svc)
    return app


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    return problem(
        422,
        "Invalid request",
        "invalid_request",
        "the request body does not validate",
        request_id_of(request),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(exc.status_code, str(exc.detail), code, str(exc.detail), request_id_of(request))


async def _any_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_for(exc, request_id_of(request))


class _Edge:
    """Pure ASGI middleware: assigns `x-request-id`, enforces the body limit, counts requests."""

    def __init__(self, app: ASGIApp, *, max_body: int, svc: Services) -> None:
        self.app = app
        self.max_body = max_body
        self.svc = svc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("route_path") or scope["path"]
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*raw, (b"x-request-id", request_id.encode())]
            await send(message)

        body = await self._read_body(receive, headers)
        if body is None:
            response = problem(
                413,
                "Request too large",
                "request_too_large",
                f"the body exceeds {self.max_body} bytes",
                request_id,
            )
            await response(scope, receive, send_with_id)
        else:
            await self.app(scope, _replay(body, receive), send_with_id)
        label = path if path in _KNOWN_PATHS else "other"
        self.svc.metrics.requests.labels(label, str(status_holder["status"])).inc()
        self.svc.metrics.latency.labels(label).observe(time.perf_counter() - started)

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes | None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


_KNOWN_PATHS = frozenset(
    {
        "/v1/chat/completions",
        "/v1/models",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/retrieval/search",
        "/v1/guardrails/scan",
    }
)


def _replay(body: bytes, upstream: Receive) -> Receive:
    """Hand the buffered body to the app once, then pass through (disconnect notices)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive
