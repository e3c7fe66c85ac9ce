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

from gateway.audit import ChatCompleted, RequestRejected
from gateway.errors import ModelNotAllowed
from gateway.prompting import build_messages, tool_message
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
from guardrails import GuardrailError, ScanContext, Stage, StreamGuard, Vault
from routing import RoutingError, StreamEnd
from tools import ToolError

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
    guards, vault, trail = svc.guards.for_tenant(who.tenant), Vault(), Trail()
    scan = ScanContext(who.tenant, Stage.INPUT, vault)
    ticket = None
    try:
        history = guard_messages(req.messages, guards.input, scan, trail)
        excerpts = (
            await retrieve(svc, who.tenant, who.clearance, history, guards.context, vault, trail)
            if route.assistant
            else []
        )
        tool_ctx = svc.toolbox.context(who.tenant, who.tools, role=who.role, key_id=who.key_id, request_id=request_id)
        request = model_request(req, route, build_messages(history, excerpts), svc.tools, tool_ctx)
        ticket = await svc.metering.reserve(who, route, request, svc.router.table)  # limits + budget, atomic
        planned = await run_tools(
            svc, runbook_calls(svc, excerpts, history, tool_ctx), tool_ctx, guards.context, vault, trail
        )
        request = with_tool_results(request, planned)
        stream = await svc.router.open(route, request, buffered=not req.stream)
    except (GuardrailError, RoutingError, ToolError) as exc:
        await svc.metering.release(ticket)
        await _reject(svc, who, request_id, route.name, exc, trail)
        raise
    out = StreamGuard(guards.output, ScanContext(who.tenant, Stage.OUTPUT, vault))
    end: StreamEnd | None = None
    async for item in stream_answer(stream, out):
        if isinstance(item, StreamEnd):
            end = item
        else:
            yield AnswerDelta(item)
    assert end is not None
    called = await run_tools(svc, end.tool_calls, tool_ctx, guards.context, vault, trail)
    tools = [*planned, *called]
    if called:
        follow_up = [*request.messages, *(tool_message(r, text) for r, text in called)]
        stream = await svc.router.open(
            route, model_request(req, route, follow_up, svc.tools, None), buffered=not req.stream
        )
        async for item in stream_answer(stream, out):
            if isinstance(item, StreamEnd):
                end = StreamEnd(
                    item.finish_reason,
                    end.prompt_tokens + item.prompt_tokens,
                    end.completion_tokens + item.completion_tokens,
                )
            else:
                yield AnswerDelta(item)
    tail = out.flush()
    if tail:
        yield AnswerDelta(tail)
    trail.extend(out.verdicts)
    cost = await svc.metering.settle(
        ticket, stream.deployment, prompt_tokens=end.prompt_tokens, completion_tokens=end.completion_tokens
    )
    citations = [hit.citation() for hit, _ in excerpts]
    netops: dict[str, object] = {
        "route": route.name,
        "deployment": stream.deployment.name,
        "cost_usd": round(cost, 8),
        "policy": guards.policy_id,
        "citations": citations,
        "tools": [{**r.summary(), "output": text} for r, text in tools],
        "redactions": vault.count,
        "warnings": trail.warnings,
        "confirmation_required": trail.confirmations(),
    }
    await asyncio.to_thread(
        svc.audit.append,
        ChatCompleted(
            tenant=who.tenant,
            request_id=request_id,
            key_id=who.key_id,
            route=route.name,
            deployment=stream.deployment.name,
            prompt_digest=_digest(history),
            stream=req.stream,
            prompt_tokens=end.prompt_tokens,
            completion_tokens=end.completion_tokens,
            cost_usd=cost,
            routing=stream.summary(),
            finish_reason=end.finish_reason,
            policy=guards.policy_id,
            verdicts=trail.summaries(),
            citations=citations,
            tools=[r.summary() for r, _ in tools],
        ),
    )
    svc.metrics.tokens.labels(stream.deployment.name, "prompt").inc(end.prompt_tokens)
    svc.metrics.tokens.labels(stream.deployment.name, "completion").inc(end.completion_tokens)
    yield AnswerDone(end.finish_reason, end.prompt_tokens, end.completion_tokens, netops)


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
