"""The pipeline's steps, each a small function over our own interfaces (see `gateway.pipeline`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.schemas import ChatCompletionRequest, ChatMessage
from gateway.services import Services
from guardrails import Action, GuardChain, ScanContext, Stage, StreamGuard, Vault, Verdict
from retrieval import Hit, RetrievalError
from routing import ModelRequest, Route, RoutedStream, StreamEnd, TextDelta, ToolCall
from tools import ToolContext, ToolError, ToolNotAllowed, ToolRegistry, ToolResult

__all__ = ["Trail", "guard_messages", "model_request", "retrieve", "run_tools", "stream_answer"]


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

    def summaries(self) -> list[dict[str, object]]:
        return [v.summary() for v in self.verdicts if v.action is not Action.ALLOW]


def guard_messages(
    messages: Sequence[ChatMessage], chain: GuardChain, ctx: ScanContext, trail: Trail
) -> list[tuple[str, str]]:
    """Run the input chain over every message; returns (role, guarded text) pairs."""
    guarded: list[tuple[str, str]] = []
    for message in messages:
        result = chain.run(message.text, ctx)
        trail.extend(result.verdicts)
        guarded.append((message.role, result.text))
    return guarded


async def retrieve(
    svc: Services,
    tenant: str,
    history: Sequence[tuple[str, str]],
    chain: GuardChain,
    vault: Vault,
    trail: Trail,
) -> list[tuple[Hit, str]]:
    """Tenant-scoped search on the last user message; each excerpt passes the context chain."""
    query = next((text for role, text in reversed(history) if role == "user"), "")
    if not query.strip():
        return []
    try:
        hits = await asyncio.to_thread(svc.retriever.search, tenant, query, svc.settings.retrieval.top_k)
    except RetrievalError as exc:
        trail.warnings.append(f"retrieval unavailable: {exc.detail}")
        return []
    ctx = ScanContext(tenant, Stage.CONTEXT, vault)
    excerpts = []
    for hit in hits:
        result = chain.run(hit.text, ctx)
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
    forced = req.forced_tool
    if tool_ctx is None or forced is None or not route.assistant:
        return ModelRequest(messages, max_tokens, req.temperature)
    if forced not in tool_ctx.grants or forced not in registry.names:
        raise ToolNotAllowed(f"tool {forced!r} is not available to tenant {tool_ctx.tenant!r}", tool=forced)
    return ModelRequest(
        messages, max_tokens, req.temperature, tools=registry.schemas([forced]), tool_choice=req.tool_choice
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
    """Run the model's tool calls through the registry; outputs pass the context chain."""
    done: list[tuple[ToolResult, str]] = []
    scan = ScanContext(ctx.tenant, Stage.CONTEXT, vault)
    for call in calls:
        try:
            result = await svc.tools.invoke(call.name, call.arguments, ctx)
        except ToolError as exc:
            svc.metrics.tool_calls.labels(call.name, exc.code).inc()
            trail.warnings.append(f"tool {call.name} refused or failed: {exc.detail}")
            continue
        svc.metrics.tool_calls.labels(call.name, "ok").inc()
        guarded = chain.run(result.output, scan)
        trail.extend(guarded.verdicts)
        done.append((result, guarded.text))
    return done
