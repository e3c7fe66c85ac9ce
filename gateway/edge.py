"""The HTTP edge, one pure ASGI middleware: request id, body limit, the request's `Turn`, the last-resort
error boundary, metrics by route template and one JSON access-log line per request.

Handled errors are answered by the one error table (`gateway.problems`) inside the app and never re-raised,
so uvicorn keeps the connection alive and logs nothing. An unexpected exception is answered 500 here, logged
once with its traceback, and not re-raised either.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.cache import wants_fresh
from gateway.problems import problem
from gateway.services import Services
from gateway.turn import Turn

__all__ = ["ACCESS_LOG", "Edge", "configure_logging"]

ACCESS_LOG = logging.getLogger("netops.access")
_log = logging.getLogger("netops.gateway")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_READ = (b"cache-control", b"traceparent")  # the request headers the edge reads (ASGI lower-cases names)


class Edge:
    """Wraps the app: every HTTP request gets an id and a Turn, and is counted and logged once."""

    def __init__(self, app: ASGIApp, *, max_body: int, svc: Services) -> None:
        self.app = app
        self.max_body = max_body
        self.svc = svc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        path: str = scope["path"]
        client = scope.get("client")
        wanted = {k: v.decode("latin-1") for k, v in scope["headers"] if k in _READ}
        turn = Turn(
            self.svc,
            request_id,
            scope["method"],
            audited=path.startswith("/v1/"),
            client=client[0] if client else "",
            traceparent=wanted.get(b"traceparent", ""),
        )
        if turn.audited:
            await self.svc.live.maybe_refresh()  # config versions applied by another process
        turn.fresh = wants_fresh(wanted.get(b"cache-control", ""))
        scope.setdefault("state", {}).update(request_id=request_id, turn=turn)
        sent = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*raw, (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                turn.route = _template(scope)
                await turn.close(sent["status"])  # the final record is durable before the response ends
            await send(message)

        await self._serve(scope, receive, send_with_id, turn, sent)
        turn.route = _template(scope)
        await turn.close(sent["status"] or 500)
        self._account(turn, started)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, turn: Turn, sent: dict[str, int]) -> None:
        body = await self._read_body(receive, _declared_length(scope))
        if body is None:
            detail = f"the body exceeds {self.max_body} bytes"
            turn.reject(413, "request_too_large", detail)
            await problem(413, "Request too large", "request_too_large", detail, turn.request_id)(scope, receive, send)
            return
        try:
            await self.app(scope, _replay(body, receive), send)
        except Exception as exc:  # noqa: BLE001 - the last resort: answered here, never re-raised into the server
            _log.error("unhandled error in request %s", turn.request_id, exc_info=exc)
            turn.reject(500, "internal_error", "an internal error occurred")
            if not sent["status"]:
                response = problem(
                    500, "Internal error", "internal_error", "an internal error occurred", turn.request_id
                )
                await response(scope, receive, send)

    def _account(self, turn: Turn, started: float) -> None:
        elapsed = time.perf_counter() - started
        outcome = turn.outcome
        status = str(outcome.status) if outcome else "500"
        route = turn.route or "unmatched"
        self.svc.metrics.requests.labels(route, status).inc()
        self.svc.metrics.latency.labels(route).observe(elapsed)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            ACCESS_LOG.info(orjson.dumps(_access_record(turn, route, status, elapsed)).decode())

    async def _read_body(self, receive: Receive, declared: str) -> bytes | None:
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


def configure_logging() -> None:
    """Service logs as text lines; the access log (`netops.access`) as one JSON object a line, on stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    ACCESS_LOG.handlers[:] = [handler]
    ACCESS_LOG.propagate = False


def _access_record(turn: Turn, route: str, status: str, elapsed: float) -> dict[str, Any]:
    outcome = turn.outcome
    return {
        "ts": round(time.time(), 3),
        "request_id": turn.request_id,
        "tenant": turn.tenant,
        "method": turn.method,
        "route": route,
        "status": int(status),
        "code": outcome.code if outcome else "",
        "latency_ms": round(elapsed * 1000, 2),
        "audit": outcome.event if outcome else "",
    }


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            incoming = bytes(value).decode("latin-1")
            if _REQUEST_ID.match(incoming):
                return incoming
    return uuid.uuid4().hex


def _declared_length(scope: Scope) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), "")


def _template(scope: Scope) -> str:
    """The matched route's path template (`/v1/tools/{name}/invoke`), so metrics don't grow per id."""
    route = scope.get("route")
    path: object = getattr(route, "path", None)
    return path if isinstance(path, str) else ""


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
