"""The pipeline's steps, each a small function over our own interfaces (see `gateway.pipeline`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from gateway.cache import cache_key
from gateway.events import ToolDenied, ToolInvoked
from gateway.kills import Target
from gateway.prompting import tool_message
from gateway.schemas import ChatCompletionRequest, ChatMessage
from gateway.services import Services
from gateway.turn import Turn
from guardrails import Action, ChainResult, ScanContext, Stage, StreamGuard, Verdict
from retrieval import Hit, RetrievalError
from routing import ModelRequest, Route, RoutedStream, StreamEnd, TextDelta, ToolCall
from tools import Risk, ToolContext, ToolError, ToolRegistry, ToolResult

__all__ = [
    "chat_excerpts",
    "guard_messages",
    "invoke_audited",
    "last_user_text",
    "model_request",
    "retrieve",
    "run_tools",
    "stream_answer",
    "with_tool_results",
]


async def guard_messages(turn: Turn, messages: Sequence[ChatMessage]) -> list[tuple[str, str]]:
    """Run the input chain over every message but the earlier assistant turns, which are model output sent back
    as data and pass the history chain (size limit, then the context chain); returns (role, guarded text) pairs."""
    own = turn.guards.input, ScanContext(turn.tenant, Stage.INPUT, turn.vault)
    data = turn.guards.history, ScanContext(turn.tenant, Stage.CONTEXT, turn.vault)
    guarded: list[tuple[str, str]] = []
    with turn.timings.step("guard.input", messages=len(messages)):
        for message in messages:
            chain, ctx = data if message.role == "assistant" else own
            result = await chain.arun(message.text, ctx)
            turn.trail.extend(result.verdicts)
            guarded.append((message.role, result.text))
    return guarded


def last_user_text(history: Sequence[tuple[str, str]]) -> str:
    return next((text for role, text in reversed(history) if role == "user"), "")


async def retrieve(turn: Turn, query: str, top_k: int) -> list[tuple[Hit, str]]:
    """Tenant- and clearance-scoped search; each excerpt passes the tenant's context chain (chat and search alike).

    Clearance is the key's own (user: internal, approver: confidential, admin: restricted), in chat as in search.
    """
    who = turn.who
    with turn.timings.step("retrieval", top_k=top_k) as span:
        hits = await _search(turn, query, top_k)
        span.set_attribute("netops.hits", len(hits))
    chain, ctx = turn.guards.context, ScanContext(who.tenant, Stage.CONTEXT, turn.vault)
    excerpts = []
    with turn.timings.step("guard.context", source="retrieval"):
        for hit in hits:
            result = await chain.arun(hit.text, ctx)
            turn.trail.extend(result.verdicts)
            excerpts.append((hit, result.text))
    return excerpts


async def _search(turn: Turn, query: str, top_k: int) -> list[Hit]:
    """The index's hits, from the retrieval cache when the live version already answered this query."""
    svc, who = turn.svc, turn.who
    search = partial(svc.retriever.search, who.tenant, query, top_k, clearance=who.clearance)
    if not turn.cached:
        svc.caches.retrieval.bypassed()
        return await asyncio.to_thread(search)
    version = await turn.index_version()
    key = cache_key(who.tenant, "retrieval", {"v": version, "c": who.clearance, "k": top_k, "q": query})
    hit = svc.caches.retrieval.get(key)
    if hit is not None:
        turn.cached_steps["retrieval"] = round(hit.age_s, 1)
        return list(hit.value)
    hits = await asyncio.to_thread(search)
    if version and all(h.index_version == version for h in hits):  # not across a promote that raced the search
        svc.caches.retrieval.put(key, hits)
    return hits


async def chat_excerpts(turn: Turn, history: Sequence[tuple[str, str]]) -> list[tuple[Hit, str]]:
    """Excerpts for a chat answer: an unavailable index degrades to a warning, not a refusal."""
    query = last_user_text(history)
    if not query.strip():
        return []
    try:
        return await retrieve(turn, query, turn.svc.settings.retrieval.top_k)
    except RetrievalError as exc:
        turn.trail.warnings.append(f"retrieval unavailable: {exc.detail}")
        return []


def model_request(
    req: ChatCompletionRequest,
    route: Route,
    messages: list[dict[str, Any]],
    registry: ToolRegistry,
    tool_ctx: ToolContext | None,
) -> ModelRequest:
    """The request for the model; a tool forced by `tool_choice` must be granted (checked here, server-side)."""
    max_tokens = min(req.token_limit or route.max_tokens, route.max_tokens)
    temperature = route.temperature if req.temperature is None else req.temperature
    forced = req.forced_tool
    if tool_ctx is None or forced is None or not route.assistant:
        return ModelRequest(messages, max_tokens, temperature, response_format=req.structured)
    registry.require_grant(forced, tool_ctx)
    return ModelRequest(
        messages,
        max_tokens,
        temperature,
        tools=registry.schemas([forced], tool_ctx.tenant),
        tool_choice=req.tool_choice,
        response_format=req.structured,
    )


async def stream_answer(turn: Turn, stream: RoutedStream, guard: StreamGuard) -> AsyncIterator[str | StreamEnd]:
    """Model deltas through the streaming output guard (`GuardChain.arun`, with its deadline); `StreamEnd` last. The
    time spent waiting on the upstream is the turn's model time; per chunk, only two clock reads."""
    events, timings, clock = aiter(stream), turn.timings, time.perf_counter
    while True:
        started = clock()
        event = await anext(events, None)
        waited = clock()
        timings.add("model", waited - started)
        if event is None:
            return
        if isinstance(event, TextDelta):
            text = await guard.afeed(event.text)
            timings.add("guard.output", clock() - waited)
            if text:
                yield text
        else:
            yield event


async def run_tools(turn: Turn, calls: Sequence[ToolCall], ctx: ToolContext) -> list[tuple[ToolResult, str]]:
    """Run the model's tool calls through the registry; outputs pass the context chain; each call is audited."""
    done: list[tuple[ToolResult, str]] = []
    for call in calls:
        try:
            result, guarded = await invoke_audited(turn, call.name, call.arguments, ctx)
        except ToolError as exc:
            turn.trail.warnings.append(f"tool {call.name} refused or failed: {exc.detail}")
            continue
        turn.trail.extend(guarded.verdicts)
        done.append((result, guarded.text))
    return done


def with_tool_results(turn: Turn, request: ModelRequest, results: Sequence[tuple[ToolResult, str]]) -> ModelRequest:
    """The request with guarded tool outputs appended as untrusted data."""
    if not results:
        return request
    return replace(request, messages=[*request.messages, *(tool_message(turn.prompts, r, text) for r, text in results)])


async def invoke_audited(
    turn: Turn, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext
) -> tuple[ToolResult, ChainResult]:
    """Run one tool through the registry; its output passes the context chain; the call or refusal is audited.

    A refusal's record keeps the tool and the stable code only: its message may quote argument values."""
    svc = turn.svc
    known = name if name in svc.tools.risks else "unknown"
    try:
        with turn.timings.step("tools", tool=known):
            result = await _run_tool(turn, name, arguments, ctx)
    except ToolError as exc:
        svc.metrics.tool_calls.labels(known, exc.code).inc()
        denied = ToolDenied(tenant=ctx.tenant, request_id=ctx.request_id, key_id=ctx.key_id, tool=known, code=exc.code)
        with turn.timings.step("audit", kind=denied.kind):
            await svc.audit.append_async(denied)
        raise
    svc.metrics.tool_calls.labels(name, "ok").inc()
    with turn.timings.step("guard.context", source="tool"):
        guarded = await turn.guards.context.arun(result.output, ScanContext(ctx.tenant, Stage.CONTEXT, turn.vault))
    invoked = _invoked(ctx, result, guarded.verdicts, svc)
    with turn.timings.step("audit", kind=invoked.kind):
        await svc.audit.append_async(invoked)
    return result, guarded


async def _run_tool(turn: Turn, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext) -> ToolResult:
    """Run a tool, or take a read-only tool's output from the tool cache while it is young (its age is reported);
    grants and arguments are checked first either way."""
    svc = turn.svc
    svc.live.kills.check(Target.TOOL, name)
    ttl = svc.caches.tool_ttl(name)
    if svc.tools.risks.get(name) is not Risk.READ or ttl <= 0:
        return await svc.tools.invoke(name, arguments, ctx)
    if not turn.cached:
        svc.caches.tools.bypassed()
        return await svc.tools.invoke(name, arguments, ctx)
    _, args = svc.tools.check(name, arguments, ctx)
    validated = args.model_dump(mode="json")
    key = cache_key(ctx.tenant, "tool", {"tool": name, "arguments": validated})
    hit = svc.caches.tools.get(key)
    if hit is not None:
        output, duration_ms = hit.value
        return ToolResult(name, validated, output, duration_ms, age_s=hit.age_s)
    result = await svc.tools.invoke(name, validated, ctx)
    svc.caches.tools.put(key, (result.output, result.duration_ms), ttl_s=ttl)
    return result


def _invoked(ctx: ToolContext, result: ToolResult, verdicts: Sequence[Verdict], svc: Services) -> ToolInvoked:
    return ToolInvoked(
        tenant=ctx.tenant,
        request_id=ctx.request_id,
        key_id=ctx.key_id,
        tool=result.tool,
        risk=svc.tools.risks[result.tool].value,
        arguments=result.arguments,
        duration_ms=round(result.duration_ms, 2),
        output_digest=result.output_digest,
        cached_age_s=None if result.age_s is None else round(result.age_s, 1),
        verdicts=[v.summary() for v in verdicts if v.action is not Action.ALLOW],
    )
