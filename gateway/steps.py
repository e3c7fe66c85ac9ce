"""The pipeline's steps, each a small function over our own interfaces (see `gateway.pipeline`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from gateway.events import ToolDenied, ToolInvoked
from gateway.prompting import tool_message
from gateway.schemas import ChatCompletionRequest, ChatMessage
from gateway.services import Services
from guardrails import Action, ChainResult, GuardChain, ScanContext, Stage, StreamGuard, Vault, Verdict
from retrieval import Hit, RetrievalError
from routing import ModelRequest, Route, RoutedStream, StreamEnd, TextDelta, ToolCall
from tools import ToolContext, ToolError, ToolNotAllowed, ToolRegistry, ToolResult
from tools.runbook import plan_runbook_calls

__all__ = [
    "Trail",
    "guard_messages",
    "model_request",
    "retrieve",
    "run_tools",
    "runbook_calls",
    "stream_answer",
    "with_tool_results",
]


@dataclass
class Trail:
    """Everything the guardrails decided during one request, and warnings for the caller."""

    verdicts: list[Verdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, verdicts: Iterable[Verdict]) -> None:
        for verdict in verdicts:
            self.verdicts.append(verdict)
            if verdict.action is not Action.ALLOW:
                self.warnings.append(f"{verdict.scanner}: {verdict.reason}")

    def confirmations(self) -> list[str]:
        """Dangerous commands the answer contains: a client must get explicit confirmation before running them."""
        flagged = (v for v in self.verdicts if v.action is Action.FLAG and v.scanner == "dangerous_commands")
        return sorted({span.label for v in flagged for span in v.evidence})

    def summaries(self) -> list[dict[str, object]]:
        return [v.summary() for v in self.verdicts if v.action is not Action.ALLOW]


async def guard_messages(
    messages: Sequence[ChatMessage], chain: GuardChain, ctx: ScanContext, trail: Trail
) -> list[tuple[str, str]]:
    """Run the input chain over every message; returns (role, guarded text) pairs."""
    guarded: list[tuple[str, str]] = []
    for message in messages:
        result = await chain.arun(message.text, ctx)
        trail.extend(result.verdicts)
        guarded.append((message.role, result.text))
    return guarded


async def retrieve(
    svc: Services,
    tenant: str,
    clearance: str,
    history: Sequence[tuple[str, str]],
    chain: GuardChain,
    vault: Vault,
    trail: Trail,
) -> list[tuple[Hit, str]]:
    """Tenant- and clearance-scoped search on the last user message; each excerpt passes the context chain."""
    query = next((text for role, text in reversed(history) if role == "user"), "")
    if not query.strip():
        return []
    try:
        hits = await asyncio.to_thread(
            partial(svc.retriever.search, tenant, query, svc.settings.retrieval.top_k, clearance=clearance)
        )
    except RetrievalError as exc:
        trail.warnings.append(f"retrieval unavailable: {exc.detail}")
        return []
    ctx = ScanContext(tenant, Stage.CONTEXT, vault)
    excerpts = []
    for hit in hits:
        result = await chain.arun(hit.text, ctx)
        trail.extend(result.verdicts)
        excerpts.append((hit, result.text))
    return excerpts


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
        return ModelRequest(messages, max_tokens, temperature)
    if forced not in tool_ctx.grants or forced not in registry.names:
        raise ToolNotAllowed(f"tool {forced!r} is not available to tenant {tool_ctx.tenant!r}", tool=forced)
    return ModelRequest(
        messages,
        max_tokens,
        temperature,
        tools=registry.schemas([forced], tool_ctx.tenant),
        tool_choice=req.tool_choice,
    )


async def stream_answer(stream: RoutedStream, guard: StreamGuard) -> AsyncIterator[str | StreamEnd]:
    """Model deltas through the streaming output guard; the `StreamEnd` is passed through last."""
    async for event in stream:
        if isinstance(event, TextDelta):
            text = guard.feed(event.text)
            if text:
                yield text
        else:
            yield event


async def run_tools(
    svc: Services, calls: Sequence[ToolCall], ctx: ToolContext, chain: GuardChain, vault: Vault, trail: Trail
) -> list[tuple[ToolResult, str]]:
    """Run the model's tool calls through the registry; outputs pass the context chain; each call is audited."""
    done: list[tuple[ToolResult, str]] = []
    for call in calls:
        try:
            result, guarded = await invoke_audited(svc, call.name, call.arguments, ctx, chain, vault)
        except ToolError as exc:
            trail.warnings.append(f"tool {call.name} refused or failed: {exc.detail}")
            continue
        trail.extend(guarded.verdicts)
        done.append((result, guarded.text))
    return done


def runbook_calls(
    svc: Services,
    req: ChatCompletionRequest,
    excerpts: Sequence[tuple[Hit, str]],
    history: Sequence[tuple[str, str]],
    ctx: ToolContext,
) -> list[ToolCall]:
    """Read-only tools named by retrieved runbook steps, on the device the user named (tenant opt-in).

    None when the client forced a tool with `tool_choice`: an explicit choice wins over the runbook's plan.
    """
    tenant = svc.toolbox.inventory.for_tenant(ctx.tenant)
    if not tenant.runbook_tools or not excerpts or req.forced_tool is not None:
        return []
    user = next((text for role, text in reversed(history) if role == "user"), "")
    devices = [d.name for d in tenant.devices]
    plan = plan_runbook_calls((text for _, text in excerpts), user, devices, ctx.grants, svc.tools)
    return [ToolCall(f"runbook-{i}", name, arguments) for i, (name, arguments) in enumerate(plan)]


def with_tool_results(request: ModelRequest, results: Sequence[tuple[ToolResult, str]]) -> ModelRequest:
    """The request with guarded tool outputs appended as untrusted data."""
    if not results:
        return request
    return replace(request, messages=[*request.messages, *(tool_message(r, text) for r, text in results)])


async def invoke_audited(
    svc: Services,
    name: str,
    arguments: str | Mapping[str, Any],
    ctx: ToolContext,
    chain: GuardChain,
    vault: Vault,
) -> tuple[ToolResult, ChainResult]:
    """Run one tool through the registry; its output passes the context chain; the call or refusal is audited."""
    try:
        result = await svc.tools.invoke(name, arguments, ctx)
    except ToolError as exc:
        svc.metrics.tool_calls.labels(name[:64], exc.code).inc()
        denied = ToolDenied(
            tenant=ctx.tenant,
            request_id=ctx.request_id,
            key_id=ctx.key_id,
            tool=name[:64],
            code=exc.code,
            detail=exc.detail[:500],
        )
        await asyncio.to_thread(svc.audit.append, denied)
        raise
    svc.metrics.tool_calls.labels(name, "ok").inc()
    guarded = await chain.arun(result.output, ScanContext(ctx.tenant, Stage.CONTEXT, vault))
    await asyncio.to_thread(svc.audit.append, _invoked(ctx, result, guarded.verdicts, svc))
    return result, guarded


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
        verdicts=[v.summary() for v in verdicts if v.action is not Action.ALLOW],
    )
