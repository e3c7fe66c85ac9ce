"""HTTP endpoints: the OpenAI-compatible API plus search, guardrail scanning, health and metrics.

Every handler takes the caller from `deps` (authentication before the body is read) and works over the
request's `Turn`, which writes the one final audit record.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio
import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from gateway.db import health_of
from gateway.deps import Caller, bearer_key, principal, read_body, services, turn_of
from gateway.errors import Forbidden
from gateway.openapi import body, responses
from gateway.pipeline import AnswerDelta, AnswerDone, Progress, chat
from gateway.problems import problem_for
from gateway.rollout_model import conversation_key
from gateway.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ListOf,
    ScanRequest,
    ScanResponse,
    SearchRequest,
    SearchResponse,
)
from gateway.services import Services
from gateway.steps import retrieve
from gateway.tenants import Role
from gateway.turn import Turn
from guardrails import GuardrailError, ScanContext, Stage
from retrieval import Drift, SourceWatch, judge
from routing.fallback_limits import FallbackLimits

__all__ = ["router"]

router = APIRouter()
Event = Progress | AnswerDelta | AnswerDone
_DONE = b"data: [DONE]\n\n"


@router.post(
    "/v1/chat/completions",
    openapi_extra=body(ChatCompletionRequest),
    responses=responses(ChatCompletion, 400, 402, 403, 404, 413, 422, 429, 502, 503),
)
async def chat_completions(request: Request, who: Caller) -> Response:
    """OpenAI chat completions, JSON or SSE; the answer carries a `netops` field (citations, tools, warnings).

    `X-NetOps-Conversation` (optional) keeps a conversation on one prompt version during a canary rollout;
    without it, the first user message does."""
    req = await read_body(request, ChatCompletionRequest)
    turn = turn_of(request)
    first_question = next((m.text for m in req.messages if m.role == "user"), "")
    await turn.choose_prompts(conversation_key(request.headers.get("x-netops-conversation"), first_question))
    events = chat(req, turn)
    first = await anext(events)  # errors before the first event become problem+json
    if req.stream:
        return StreamingResponse(
            _sse(first, events, req.model, turn), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
    parts: list[str] = []
    item: Progress | AnswerDelta | AnswerDone = first
    while not isinstance(item, AnswerDone):
        if isinstance(item, AnswerDelta):
            parts.append(item.text)
        item = await anext(events)
    return JSONResponse(
        {
            **_envelope(turn.request_id, req.model, "chat.completion"),
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


async def _sse(first: Event, events: AsyncGenerator[Event, None], model: str, turn: Turn) -> AsyncIterator[bytes]:
    """OpenAI chunks; a check's progress is a chunk with no choices and a `netops` event (SDKs skip it)."""
    base = _envelope(turn.request_id, model, "chat.completion.chunk")
    yield _chunk(base, {"role": "assistant", "content": ""}, None)
    item: Event = first
    try:
        while not isinstance(item, AnswerDone):
            if isinstance(item, Progress):
                yield b"data: " + orjson.dumps({**base, "choices": [], "netops": item.netops}) + b"\n\n"
            else:
                yield _chunk(base, {"content": item.text}, None)
            item = await anext(events)
    except Exception as exc:  # noqa: BLE001 - mid-stream: end cleanly with the reason, never a broken stream
        reason = "content_filter" if isinstance(exc, GuardrailError) else "error"
        error = json.loads(bytes(problem_for(exc, turn.request_id).body))
        turn.reject(200, error["code"], error["detail"])
        yield _chunk(base, {}, reason, netops={"error": {"code": error["code"], "detail": error["detail"]}})
        yield _DONE
        return
    finally:
        with anyio.CancelScope(shield=True):  # a client gone mid-stream: close the model stream now
            await events.aclose()
    yield _chunk(base, {}, item.finish_reason, usage=_usage(item), netops=item.netops)
    yield _DONE


def _envelope(rid: str, model: str, obj: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{rid}", "object": obj, "created": int(time.time()), "model": model}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
    data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _usage(done: AnswerDone) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


@router.get("/v1/models", responses=responses(ListOf))
async def list_models(request: Request, who: Caller) -> dict[str, Any]:
    """The routes the caller's tenant may use."""
    names = [name for name in services(request).router.table.routes if who.may_use(name)]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "netops"} for n in names],
    }


@router.post(
    "/v1/retrieval/search", openapi_extra=body(SearchRequest), responses=responses(SearchResponse, 400, 413, 422, 503)
)
async def search(request: Request, who: Caller) -> dict[str, Any]:
    """Ranked runbook chunks for the caller's tenant and clearance, through the tenant's context guardrails."""
    req = await read_body(request, SearchRequest)
    turn = turn_of(request)
    excerpts = await retrieve(turn, req.query, req.top_k)
    turn.details.update(
        query_digest=hashlib.sha256(req.query.encode()).hexdigest(),
        results=len(excerpts),
        index_version=excerpts[0][0].index_version if excerpts else "",
        verdicts=turn.trail.summaries(),
        cached_steps=turn.cached_steps,
    )
    return {"results": [{**hit.citation(), "text": text} for hit, text in excerpts], "warnings": turn.trail.warnings}


@router.post(
    "/v1/guardrails/scan", openapi_extra=body(ScanRequest), responses=responses(ScanResponse, 400, 413, 422, 503)
)
async def scan(request: Request, who: Caller) -> dict[str, Any]:
    """Run the tenant's guardrail chain for a stage over a text: redacted text and verdicts."""
    req = await read_body(request, ScanRequest)
    turn = turn_of(request)
    stage = Stage(req.stage)
    guards = turn.guards
    chain = {Stage.INPUT: guards.input, Stage.CONTEXT: guards.context, Stage.OUTPUT: guards.output}[stage]
    result = await chain.arun(req.text, ScanContext(who.tenant, stage, turn.vault))
    verdicts = [v.summary() for v in result.verdicts]
    turn.details.update(
        stage=stage.value, chars=len(req.text), verdicts=[v for v in verdicts if v["action"] != "allow"]
    )
    return {"text": result.text, "verdicts": verdicts, "policy": guards.policy_id}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store, the index, and every route able to serve (one of its own or its fallback routes'
    deployments up).

    `ready` (200): everything up. `degraded` (200): some deployment is down, but every route still has one
    that answers (its own or a fallback's), so a load balancer keeps this replica; `degraded_routes` names the
    routes with a deployment down; or Redis is down and this process keeps a local share of each limit
    (`checks.limits`); or the state store is down for less than `snapshot_max_age_s`, and this
    replica serves known keys from its snapshot and spools audit records (`checks.store`: `down_for_s`,
    `spooled`); or the index is stale (`checks.index`: `stale` true, with `ok` still true: this replica answers
    from the live version, so it stays in the load balancer, but an operator should rebuild: `netops index build
    --promote`). `not_ready` (503): the store has been down longer, or the index is down, or some route has no
    deployment left; `routes` names which. A probe that finds the store back appends the spooled records.

    `checks.index`: `version`, `chunks`, `built_at` (the live version's build time, UTC), `age_s`, `stale`, and
    `drift` (counts of files `added`, `changed`, `removed` under `retrieval.sources` since that build; null when
    the version recorded no sources); stale means drift, or older than `retrieval.max_index_age_s` if set. The
    source folders are compared at most once per `retrieval.sources_check_ttl_s` (`retrieval.freshness`)."""
    svc = services(request)
    checks: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        for dep in svc.router.table.deployments.values():
            checks[f"model:{dep.name}"] = await _probe_model(client, dep.base_url)
    checks["store"] = await asyncio.to_thread(_store_check, svc)
    limits = svc.metering.store
    if isinstance(limits, FallbackLimits):  # Redis: while it is down, each process serves a local share
        redis_down = await asyncio.to_thread(limits.check)
        checks["limits"] = {"ok": not redis_down, "down_for_s": round(redis_down, 1), "local_share": limits.share}
    checks["index"] = await asyncio.to_thread(_index_check, svc, _source_watch(request, svc))
    table = svc.router.table
    routes: dict[str, dict[str, Any]] = {}
    for name, route in table.routes.items():
        up = [d.name for d in table.candidates(route) if checks[f"model:{d.name}"]["ok"]]
        down = [d.name for d in table.candidates(route) if d.name not in up]
        served_by = "own" if set(up) & set(route.deployments) else "fallback" if up else "none"
        routes[name] = {"ok": bool(up), "up": up, "down": down, "degraded": bool(down), "served_by": served_by}
    serving = (
        (checks["store"]["ok"] or checks["store"]["snapshot"])
        and checks["index"]["ok"]
        and all(r["ok"] for r in routes.values())
    )
    everything = all(c["ok"] for c in checks.values()) and not checks["index"]["stale"]
    state = "ready" if everything else "degraded" if serving else "not_ready"
    body = {
        "status": state,
        "routes": routes,
        "degraded_routes": sorted(n for n, r in routes.items() if r["degraded"]),
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if serving else 503)


async def _probe_model(client: httpx.AsyncClient, base_url: str | None) -> dict[str, Any]:
    if not base_url:
        return {"ok": True, "detail": "hosted provider; not probed"}
    try:
        response = await client.get(base_url.rstrip("/") + "/models")
        return {"ok": response.status_code == 200, "url": base_url, "status": response.status_code}
    except httpx.HTTPError as exc:
        return {"ok": False, "url": base_url, "error": type(exc).__name__}


def _source_watch(request: Request, svc: Services) -> SourceWatch:
    """This app's watch over the configured runbook sources (made on the first probe, kept for its cache)."""
    watch: SourceWatch | None = getattr(request.app.state, "source_watch", None)
    if watch is None:
        r = svc.settings.retrieval
        watch = request.app.state.source_watch = SourceWatch(r.sources, ttl_s=r.sources_check_ttl_s)
    return watch


def _index_check(svc: Services, watch: SourceWatch) -> dict[str, Any]:
    """The live index version, its age and whether it is stale; sets the index gauges."""
    status = svc.retriever.status()
    fresh = judge(status, watch, max_age_s=svc.settings.retrieval.max_index_age_s, now=time.time())
    m = svc.metrics
    m.index_age.set(fresh.age_s or 0.0)
    m.index_stale.set(1 if fresh.stale else 0)
    for change, n in (fresh.drift or Drift()).counts().items():
        m.index_drift.labels(change=change).set(n)
    return {
        "ok": status.ready,
        "version": status.version,
        "chunks": status.chunks,
        "detail": status.detail or fresh.reason,
        **fresh.as_dict(),
    }


def _store_check(svc: Services) -> dict[str, Any]:
    """The store reachable (and the audit spool drained into the chain), or down: for how long, how many audit
    records wait in the spool, and whether the snapshot is still young enough to serve from."""
    spool = svc.audit.spool
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        drained = svc.audit.drain_spool() if spool is not None and spool.pending(every_s=0) else 0
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports, never raises
        down = health_of(svc.engine).down_for()
        return {
            "ok": False,
            "error": type(exc).__name__,
            "down_for_s": round(down, 1),
            "spooled": spool.waiting if spool is not None else 0,
            "snapshot": down < svc.settings.snapshot_max_age_s,
        }
    return {"ok": True, "dialect": svc.engine.dialect.name, "snapshot": False, "drained": drained}


@router.get("/metrics", responses=responses(None, 403))
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus exposition, for the configured scrape token (`server.metrics_token`) or an operator key:
    it names tenants and their usage, so it is never served to anonymous callers or to tenants."""
    svc = services(request)
    token, presented = svc.settings.server.metrics_token, bearer_key(request) or ""
    if token is None or not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        who = await principal(request)
        if who.role is not Role.OPERATOR:
            raise Forbidden("/metrics needs the scrape token or a key with role 'operator'")
    return PlainTextResponse(svc.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
