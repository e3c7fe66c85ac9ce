"""The HTTP edge's dependencies, one of each: the services, the request's Turn, the bearer key and principal,
a role check, and the one body parser.

Authentication runs before the body is read: a bad key is a 401 whatever the body holds. The key lookup
(a database query) runs off the event loop, unless the key is in the principal cache (`Tenants.peek`).

Example:
    @router.post("/v1/retrieval/search", openapi_extra=body_schema(SearchRequest))
    async def search(request: Request, who: Caller) -> SearchResponse:
        body = await read_body(request, SearchRequest)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from gateway.errors import Forbidden, InvalidRequest, MalformedBody
from gateway.kills import Target
from gateway.services import Services
from gateway.slack.store import slack_via
from gateway.tenants import Principal, Role
from gateway.turn import Turn

__all__ = [
    "MAX_DEPTH",
    "Caller",
    "Operator",
    "bearer_key",
    "principal",
    "read_body",
    "require",
    "services",
    "turn_of",
]

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32  # JSON nesting the API accepts; real requests need fewer than 8
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def services(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


def turn_of(request: Request) -> Turn:
    """The request's Turn, opened by the edge middleware."""
    turn: Turn = request.scope["state"]["turn"]
    return turn


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")


async def principal(request: Request) -> Principal:
    """The authenticated caller, bound to the request's Turn (401 `missing_key`/`unknown_key`/`revoked_key`)."""
    tenants, key = services(request).tenants, bearer_key(request)
    who = tenants.peek(key)
    if who is None:  # not cached: a query, off the event loop
        who = await asyncio.to_thread(tenants.authenticate, key)
    turn_of(request).bind(who)
    if who.role != "operator":  # an operator key still works while its tenant is switched off
        services(request).live.kills.check(Target.TENANT, who.tenant)
    channel = request.headers.get("x-netops-channel")
    if channel:  # a Slack user's key, used by the bot: record the Slack user and channel in the final record
        turn_of(request).via = await asyncio.to_thread(slack_via, services(request).engine, who.key_id, channel)
    return who


Caller = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only keys of the given roles (403 names the role needed)."""

    async def check(who: Caller) -> Principal:
        if who.role not in roles:
            needed = " or ".join(f"'{r.value}'" for r in roles)
            raise Forbidden(f"this endpoint needs a key with role {needed}; this key's role is '{who.role.value}'")
        return who

    return check


Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]


async def read_body(request: Request, model: type[M]) -> M:
    """Parse and validate a JSON body: 400 for bytes that are not UTF-8 JSON text or nest too deeply,
    422 naming each invalid field."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the body is not valid UTF-8 (byte {exc.start})", code="invalid_encoding") from None
    data = _json(text)
    if _depth_exceeds(data, MAX_DEPTH):
        raise MalformedBody(f"the body nests deeper than {MAX_DEPTH} levels", code="too_deeply_nested")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise MalformedBody("the body holds a lone UTF-16 surrogate (\\ud800-\\udfff)", code="invalid_unicode")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidRequest(f"invalid field {errors[0]['field']}: {errors[0]['message']}", errors=errors) from None


def _json(text: str) -> Any:
    try:
        return json.loads(text or "null")
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON: {exc.msg} at position {exc.pos}",
            errors=[{"field": "body", "message": exc.msg}],
        ) from None
    except RecursionError:
        raise MalformedBody("the body nests too deeply to parse", code="too_deeply_nested") from None


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value) if isinstance(value, list) else []


def _depth_exceeds(data: Any, limit: int) -> bool:
    level, depth = [data], 0
    while level:
        level = [child for node in level for child in _children(node) if isinstance(child, dict | list)]
        depth += 1
        if depth > limit:
            return True
    return False


def _has_lone_surrogate(data: Any) -> bool:
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        else:
            stack.extend(_children(node))
    return False
