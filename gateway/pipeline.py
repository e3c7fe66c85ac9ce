"""The request path, one step a line:

    input guardrails -> retrieval -> routing -> model -> tools -> output guardrails -> audit

`chat` is an async generator of `AnswerDelta` events closed by one `AnswerDone`. Errors before the first
event (auth, limits, guardrails, no backend) are raised to the gateway, which turns them into problem+json;
every refused request is audited before the error leaves this module.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from gateway.events import ChatCompleted, RequestRejected
from gateway.errors import ModelNotAllowed
from gateway.prompting import build_messages
from gateway.schemas import ChatCompletionRequest
from gateway.services import Services
from gateway.steps import (
    Trail,
    guard_messages,
    model_request,
    retrieve,
    run_tools,
    runbook_calls,
    stream_answer,
    with_tool_results,
)
from gateway.tenants import Principal
from guardrails import GuardChain, GuardrailError, ScanContext, Stage, StreamGuard, Vault
from retrieval import Hit
from routing import ModelRequest, Route, RoutedStream, RoutingError, StreamEnd
from tools import ToolContext, ToolError, ToolResult

__all__ = ["AnswerDelta", "AnswerDone", "chat"]


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """Guarded answer text, safe to send."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerDone:
    """The end of an answer, with what the response reports beside the text."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    netops: dict[str, object] = field(default_factory=dict)


async def chat(
    req: ChatCompletionRequest, who: Principal, request_id: str, svc: Services
) -> AsyncIterator[AnswerDelta | AnswerDone]:
    """Answer one chat request for an authenticated principal."""
    route = svc.router.table.route(req.model)
    if not who.may_use(route.name):
        raise ModelNotAllowed(f"tenant {who.tenant!r} may not use model {route.name!r}")
    guards, vault, trail, ticket = svc.guards.for_tenant(who.tenant), Vault(), Trail(), None
    try:
        history = await guard_messages(req.messages, guards.input, ScanContext(who.tenant, Stage.INPUT, vault), trail)
        excerpts = (
            await retrieve(svc, who.tenant, who.clearance, history, guards.context, vault, trail)
            if (route.assistant)
            else []
        )
        tool_ctx = svc.toolbox.context(who.tenant, who.tools, role=who.role, key_id=who.key_id, request_id=request_id)
        request = model_request(req, route, build_messages(history, excerpts), svc.tools, tool_ctx)
        ticket = await svc.metering.reserve(who, route, request, svc.router.table)  # limits + budget, atomic
        planned = await run_tools(
            svc, runbook_calls(svc, req, excerpts, history, tool_ctx), tool_ctx, guards.context, vault, trail
        )
        request = with_tool_results(request, planned)
        stream = await svc.router.open(route, request, buffered=not req.stream)
    except (GuardrailError, RoutingError, ToolError) as exc:
        await svc.metering.release(ticket)
        await _reject(svc, who, request_id, route.name, exc, trail)
        raise
    answer = _Answer(stream, tools=list(planned))
    out = StreamGuard(guards.output, ScanContext(who.tenant, Stage.OUTPUT, vault))
    try:
        async for text in _stream(answer, out):
            yield AnswerDelta(text)
        async for text in _follow_up(svc, req, route, request, answer, out, tool_ctx, guards.context, vault, trail):
            yield AnswerDelta(text)
    except BaseException:  # a backend dying mid-answer, or the client going away: usage unknown
        await svc.metering.forfeit(ticket)
        raise
    tail = out.flush()
    if tail:
        yield AnswerDelta(tail)
    trail.extend(out.verdicts)
    end = answer.end
    cost = await svc.metering.settle(
        ticket, answer.stream.deployment, prompt_tokens=end.prompt_tokens, completion_tokens=end.completion_tokens
    )
    netops = _report(route.name, answer, cost, guards.policy_id, excerpts, vault, trail)
    await asyncio.to_thread(
        svc.audit.append,
        _completed(req, who, request_id, route.name, answer, cost, guards.policy_id, history, excerpts, trail),
    )
    yield AnswerDone(end.finish_reason, end.prompt_tokens, end.completion_tokens, netops)


@dataclass
class _Answer:
    """What the model step produced: the stream it came from, its end, and the tools that ran."""

    stream: RoutedStream
    tools: list[tuple[ToolResult, str]]
    end: StreamEnd = field(default_factory=lambda: StreamEnd("stop", 0, 0))


async def _stream(answer: _Answer, out: StreamGuard) -> AsyncIterator[str]:
    """Guarded text of the current stream; its `StreamEnd` is added to the answer's totals."""
    async for item in stream_answer(answer.stream, out):
        if isinstance(item, StreamEnd):
            prev = answer.end
            answer.end = StreamEnd(
                item.finish_reason,
                prev.prompt_tokens + item.prompt_tokens,
                prev.completion_tokens + item.completion_tokens,
                item.tool_calls,
            )
        else:
            yield item


async def _follow_up(
    svc: Services,
    req: ChatCompletionRequest,
    route: Route,
    request: ModelRequest,
    answer: _Answer,
    out: StreamGuard,
    tool_ctx: ToolContext,
    chain: GuardChain,
    vault: Vault,
    trail: Trail,
) -> AsyncIterator[str]:
    """Run the tools the model called, then stream the model's answer over their guarded output."""
    called = await run_tools(svc, answer.end.tool_calls, tool_ctx, chain, vault, trail)
    if not called:
        return
    answer.tools.extend(called)
    follow_up = with_tool_results(request, called).messages
    answer.stream = await svc.router.open(
        route, model_request(req, route, follow_up, svc.tools, None), buffered=not req.stream
    )
    async for text in _stream(answer, out):
        yield text


def _report(
    route: str, answer: _Answer, cost: float, policy: str, excerpts: list[tuple[Hit, str]], vault: Vault, trail: Trail
) -> dict[str, object]:
    """The `netops` field of the response."""
    return {
        "route": route,
        "deployment": answer.stream.deployment.name,
        "cost_usd": round(cost, 8),
        "policy": policy,
        "citations": [hit.citation() for hit, _ in excerpts],
        "tools": [{**r.summary(), "output": text} for r, text in answer.tools],
        "redactions": vault.count,
        "warnings": trail.warnings,
        "confirmation_required": trail.confirmations(),
    }


def _completed(
    req: ChatCompletionRequest,
    who: Principal,
    request_id: str,
    route: str,
    answer: _Answer,
    cost: float,
    policy: str,
    history: list[tuple[str, str]],
    excerpts: list[tuple[Hit, str]],
    trail: Trail,
) -> ChatCompleted:
    """The audit record of an answered request: digests, labels and counts, never text or secret values."""
    end = answer.end
    return ChatCompleted(
        tenant=who.tenant,
        request_id=request_id,
        key_id=who.key_id,
        route=route,
        deployment=answer.stream.deployment.name,
        prompt_digest=_digest(history),
        stream=req.stream,
        prompt_tokens=end.prompt_tokens,
        completion_tokens=end.completion_tokens,
        cost_usd=cost,
        routing=answer.stream.summary(),
        finish_reason=end.finish_reason,
        policy=policy,
        verdicts=trail.summaries(),
        citations=[hit.citation() for hit, _ in excerpts],
        tools=[r.summary() for r, _ in answer.tools],
    )


async def _reject(
    svc: Services,
    who: Principal,
    request_id: str,
    route: str,
    exc: GuardrailError | RoutingError | ToolError,
    trail: Trail,
) -> None:
    svc.metrics.rejections.labels(exc.code).inc()
    await asyncio.to_thread(
        svc.audit.append,
        RequestRejected(
            tenant=who.tenant,
            request_id=request_id,
            key_id=who.key_id,
            route=route,
            code=exc.code,
            detail=exc.detail,
            verdicts=trail.summaries(),
        ),
    )


def _digest(history: list[tuple[str, str]]) -> str:
    """A digest of the guarded prompt: lets an auditor match a request without keeping its text."""
    return hashlib.sha256("\x1e".join(f"{r}\x1f{t}" for r, t in history).encode()).hexdigest()
