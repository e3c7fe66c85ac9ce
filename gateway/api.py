"""HTTP endpoints: the OpenAI-compatible API plus search, guardrail scanning, health and metrics.

Authentication runs before the body is parsed: a bad key is a 401 whatever the body holds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any, TypeVar

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from gateway.errors import InvalidRequest
from gateway.pipeline import AnswerDelta, AnswerDone, chat
from gateway.problems import problem_for
from gateway.schemas import ChatCompletionRequest, ScanRequest, SearchRequest
from gateway.services import Services
from gateway.tenants import Principal
from guardrails import GuardrailError, ScanContext, Stage, Vault

__all__ = ["router"]

router = APIRouter()
M = TypeVar("M", bound=BaseModel)


def _svc(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


def _rid(request: Request) -> str:
    return str(request.scope["state"]["request_id"])


def _authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")
    return _svc(request).tenants.authenticate(key)


async def _parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON: {exc.msg} at position {exc.pos}",
            errors=[{"field": "body", "message": exc.msg}],
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidRequest(f"invalid field {errors[0]['field']}: {errors[0]['message']}", errors=errors) from None


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """OpenAI chat completions, JSON or SSE; the answer carries a `netops` field (citations, tools, warnings)."""
    who = _authenticate(request)
    body = await _parse(request, ChatCompletionRequest)
    rid = _rid(request)
    events = chat(body, who, rid, _svc(request))
    first = await anext(events)  # errors before the first event become problem+json
    if body.stream:
        return StreamingResponse(
            _sse(first, events, body.model, rid),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    parts: list[str] = []
    item: AnswerDelta | AnswerDone = first
    while isinstance(item, AnswerDelta):
        parts.append(item.text)
        item = await anext(events)
    return JSONResponse(
        {
            **_envelope(rid, body.model, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(parts)},
                    "finish_reason": item.finish_reason,
                }
            ],
            "usage": _usage(item),
            "netops": item.netops,
        }
    )


async def _sse(
    first: AnswerDelta | AnswerDone, events: AsyncIterator[AnswerDelta | AnswerDone], model: str, rid: str
) -> AsyncIterator[str]:
    base = _envelope(rid, model, "chat.completion.chunk")
    yield _chunk(base, {"role": "assistant", "content": ""}, None)
    item: AnswerDelta | AnswerDone | None = first
    try:
        while isinstance(item, AnswerDelta):
            yield _chunk(base, {"content": item.text}, None)
            item = await anext(events)
    except Exception as exc:  # noqa: BLE001 - mid-stream: end cleanly with the reason, never a broken stream
        reason = "content_filter" if isinstance(exc, GuardrailError) else "error"
        error = json.loads(bytes(problem_for(exc, rid).body))
        yield _chunk(base, {}, reason, netops={"error": {"code": error["code"], "detail": error["detail"]}})
        yield "data: [DONE]\n\n"
        return
    assert isinstance(item, AnswerDone)
    yield _chunk(base, {}, item.finish_reason, usage=_usage(item), netops=item.netops)
    yield "data: [DONE]\n\n"


def _envelope(rid: str, model: str, obj: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{rid}", "object": obj, "created": int(time.time()), "model": model}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
    data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(data)}\n\n"


def _usage(done: AnswerDone) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The routes the caller's tenant may use."""
    who = _authenticate(request)
    names = [name for name in _svc(request).router.table.routes if who.may_use(name)]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "netops"} for n in names],
    }


@router.post("/v1/retrieval/search")
async def search(request: Request) -> dict[str, Any]:
    """Ranked runbook chunks for the caller's tenant."""
    who = _authenticate(request)
    body = await _parse(request, SearchRequest)
    svc = _svc(request)
    hits = await asyncio.to_thread(
        partial(svc.retriever.search, who.tenant, body.query, body.top_k, clearance=who.clearance)
    )
    return {"results": [{**h.citation(), "text": h.text} for h in hits]}


@router.post("/v1/guardrails/scan")
async def scan(request: Request) -> dict[str, Any]:
    """Run the tenant's guardrail chain for a stage over a text: redacted text and verdicts."""
    who = _authenticate(request)
    body = await _parse(request, ScanRequest)
    stage = Stage(body.stage)
    guards = _svc(request).guards.for_tenant(who.tenant)
    chain = {Stage.INPUT: guards.input, Stage.CONTEXT: guards.context, Stage.OUTPUT: guards.output}[stage]
    result = await chain.arun(body.text, ScanContext(who.tenant, stage, Vault()))
    return {
        "text": result.text,
        "verdicts": [v.summary() for v in result.verdicts],
        "policy": guards.policy_id,
    }


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness of each dependency: model deployments, state store, runbook index."""
    svc = _svc(request)
    checks: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        for dep in svc.router.table.deployments.values():
            checks[f"model:{dep.name}"] = await _probe_model(client, dep.base_url)
    try:
        await asyncio.to_thread(_ping_db, svc)
        checks["store"] = {"ok": True, "dialect": svc.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports, never raises
        checks["store"] = {"ok": False, "error": type(exc).__name__}
    status = await asyncio.to_thread(svc.retriever.status)
    checks["index"] = {
        "ok": status.ready,
        "version": status.version,
        "chunks": status.chunks,
        "detail": status.detail,
    }
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


async def _probe_model(client: httpx.AsyncClient, base_url: str | None) -> dict[str, Any]:
    if not base_url:
        return {"ok": True, "detail": "hosted provider; not probed"}
    try:
        response = await client.get(base_url.rstrip("/") + "/models")
        return {"ok": response.status_code == 200, "url": base_url, "status": response.status_code}
    except httpx.HTTPError as exc:
        return {"ok": False, "url": base_url, "error": type(exc).__name__}


def _ping_db(svc: Services) -> None:
    with svc.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus exposition."""
    return PlainTextResponse(generate_latest(_svc(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
