"""The request path, one step a line:

    input guardrails -> retrieval -> evidence (read-only checks) -> routing -> model -> tools
    -> output guardrails -> answer checked against the evidence -> audit

`chat` is an async generator of `Progress` and `AnswerDelta` events closed by one `AnswerDone`. It works over
the request's `Turn`, which owns the principal, policy, vault, trail and budget ticket: errors simply propagate,
and the Turn writes the one final audit event (completed, rejected or aborted) and settles the budget once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from gateway.answer_cache import cache_keys, cached_answer, digest, keep
from gateway.cache import CachedAnswer, CacheHit
from gateway.errors import ModelNotAllowed
from gateway.events import ChatCompleted
from gateway.evidence import Evidence, Progress, gather, unsupported_claims, with_evidence
from gateway.kills import Target
from gateway.prompting import build_messages
from gateway.schemas import ChatCompletionRequest
from gateway.shadow import ShadowJob, shadow_request
from gateway.steps import (
    chat_excerpts,
    guard_messages,
    last_user_text,
    model_request,
    run_tools,
    stream_answer,
    with_tool_results,
)
from gateway.turn import Turn
from guardrails import ScanContext, Stage, StreamGuard
from retrieval import Hit
from routing import ModelRequest, Route, RoutedStream, StreamEnd
from tools import Risk, ToolContext, ToolResult

__all__ = ["AnswerDelta", "AnswerDone", "Progress", "chat"]

_log = logging.getLogger("netops.cache")


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


async def chat(req: ChatCompletionRequest, turn: Turn) -> AsyncGenerator[Progress | AnswerDelta | AnswerDone, None]:
    """Answer one chat request for the turn's authenticated principal."""
    with turn.timings.step("routing"):
        route = turn.table.route(req.model)  # the route table in force, or a rollout's candidate
        turn.svc.live.kills.check(Target.ROUTE, route.name)
        turn.model = route.name
        if not turn.who.may_use(route.name):
            raise ModelNotAllowed(f"tenant {turn.tenant!r} may not use model {route.name!r}")
    history = await guard_messages(turn, req.messages)
    question = last_user_text(history)
    keys = await cache_keys(turn, req, route, history)
    cached = await cached_answer(turn, keys, question) if keys else None
    if cached is not None:
        async for done in _replay(turn, req, route, history, *cached):
            yield done
        return
    excerpts = await chat_excerpts(turn, history) if route.assistant else []
    tools = turn.tool_context()
    request = model_request(req, route, build_messages(turn.prompts, history, excerpts), turn.svc.tools, tools)
    await turn.reserve(route, request)  # limits + budget, atomic
    evidence = Evidence()
    if route.assistant and req.forced_tool is None:  # an explicit tool_choice wins over the gateway's plan
        async for item in gather(turn, question, [text for _, text in excerpts], tools):
            if isinstance(item, Progress):
                yield item
            else:
                evidence = item
    request = with_evidence(turn, request, evidence)
    stream = await turn.open(route, request, buffered=not req.stream)
    answer = _Answer(req, route, request, tools, stream, history, excerpts)
    out = StreamGuard(turn.guards.output, ScanContext(turn.tenant, Stage.OUTPUT, turn.vault))
    async for text in _stream(turn, answer, out):
        yield AnswerDelta(text)
    async for text in _follow_up(turn, answer, out):
        yield AnswerDelta(text)
    with turn.timings.step("guard.output"):
        tail = await out.aflush()
    if tail:
        turn.completion_chars += len(tail)
        answer.text.append(tail)
        yield AnswerDelta(tail)
    turn.trail.extend(out.verdicts)
    unsupported = unsupported_claims("".join(answer.text), question, evidence, _names(turn))
    turn.trail.warnings += [f"unsupported by any check: {u.claim} ({u.reason})" for u in unsupported]
    turn.unsupported = len(unsupported)
    end = answer.end
    cost = await turn.settle(
        answer.stream.deployment, prompt_tokens=end.prompt_tokens, completion_tokens=end.completion_tokens
    )
    await turn.complete(_completed(turn, answer, cost, evidence))
    _counted(turn, route.name, answer.stream.deployment.name, cost, "")
    _shadow(turn, answer, evidence, question)  # a shadow rollout's candidate answers too, in the background
    report = _report(turn, answer, cost, evidence)
    report["unsupported"] = [{"claim": u.claim, "reason": u.reason} for u in unsupported]
    if keys and not any(turn.svc.tools.risks.get(r.tool) is not Risk.READ for r, _ in answer.tools):
        kept = CachedAnswer(
            "".join(answer.text),
            end.finish_reason,
            end.prompt_tokens,
            end.completion_tokens,
            answer.stream.deployment.name,
            cost,
            turn.request_id,
            report,
        )
        keep(turn, keys, question, kept)
    yield AnswerDone(end.finish_reason, end.prompt_tokens, end.completion_tokens, report)


async def _replay(
    turn: Turn,
    req: ChatCompletionRequest,
    route: Route,
    history: list[tuple[str, str]],
    hit: CacheHit[CachedAnswer],
    how: dict[str, object],
) -> AsyncIterator[AnswerDelta | AnswerDone]:
    """Answer from the response cache: the output guard runs again, limits count the request, nothing is spent;
    the audit record says which request computed the answer and what the hit saved."""
    cached = hit.value
    request = model_request(req, route, build_messages(turn.prompts, history, []), turn.svc.tools, None)
    await turn.reserve(route, request)  # rate limits apply to hits too
    out = StreamGuard(turn.guards.output, ScanContext(turn.tenant, Stage.OUTPUT, turn.vault))
    with turn.timings.step("guard.output", cached=True):
        text = await out.afeed(cached.text) + await out.aflush()
    turn.trail.extend(out.verdicts)
    turn.completion_chars = len(text)
    deployment = turn.table.deployments.get(cached.deployment)
    if deployment is not None:
        await turn.settle(deployment, prompt_tokens=0, completion_tokens=0)
    info = {
        **how,
        "age_s": round(hit.age_s, 1),
        "source_request_id": cached.request_id,
        "saved_usd": round(cached.cost_usd, 8),
    }
    turn.svc.caches.saved(turn.tenant, cached.cost_usd)
    report = cached.report
    await turn.complete(
        ChatCompleted(
            tenant=turn.tenant,
            request_id=turn.request_id,
            key_id=turn.key_id,
            route=route.name,
            deployment=cached.deployment,
            prompt_digest=digest(history),
            stream=req.stream,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=0.0,
            finish_reason=cached.finish_reason,
            policy=turn.guards.policy_id,
            verdicts=turn.trail.summaries(),
            citations=list(report.get("citations", [])),
            tools=[{k: v for k, v in t.items() if k != "output"} for t in report.get("tools", [])],
            findings=len(report.get("findings", [])),
            prompts=turn.prompts.version,
            cache=info,
            timings_ms=turn.timed(),
        )
    )
    _counted(turn, route.name, cached.deployment, 0.0, str(how["kind"]))
    if text:
        yield AnswerDelta(text)
    warnings = list(dict.fromkeys([*turn.trail.warnings, *report.get("warnings", [])]))
    netops = {**report, "cost_usd": 0.0, "cache": info, "warnings": warnings, "redactions": turn.vault.count}
    netops["timings_ms"] = turn.timed()
    yield AnswerDone(cached.finish_reason, 0, 0, netops)


@dataclass
class _Answer:
    """What the model step is working on: the request, its current stream, totals and the tools that ran."""

    req: ChatCompletionRequest
    route: Route
    request: ModelRequest
    tool_ctx: ToolContext
    stream: RoutedStream
    history: list[tuple[str, str]]  # the guarded conversation
    excerpts: list[tuple[Hit, str]]  # the cited runbook chunks, guarded
    tools: list[tuple[ToolResult, str]] = field(default_factory=list)  # tools the model called
    end: StreamEnd = field(default_factory=lambda: StreamEnd("stop", 0, 0))
    text: list[str] = field(default_factory=list)  # the guarded answer so far


async def _stream(turn: Turn, answer: _Answer, out: StreamGuard) -> AsyncIterator[str]:
    """Guarded text of the current stream; its `StreamEnd` is added to the answer's totals. Its span, `stream`,
    covers the whole stream (the model's waits and the output guard add to their own steps' time)."""
    with turn.timings.step("stream", deployment=answer.stream.deployment.name) as span:
        async for text in _streamed(turn, answer, out):
            yield text
        span.set_attributes(
            {"netops.completion_chars": turn.completion_chars, "netops.finish": answer.end.finish_reason}
        )


async def _streamed(turn: Turn, answer: _Answer, out: StreamGuard) -> AsyncIterator[str]:
    async for item in stream_answer(turn, answer.stream, out):
        if isinstance(item, StreamEnd):
            prev = answer.end
            answer.end = StreamEnd(
                item.finish_reason,
                prev.prompt_tokens + item.prompt_tokens,
                prev.completion_tokens + item.completion_tokens,
                item.tool_calls,
            )
        else:
            turn.completion_chars += len(item)
            answer.text.append(item)
            yield item


async def _follow_up(turn: Turn, answer: _Answer, out: StreamGuard) -> AsyncIterator[str]:
    """Run the tools the model called, then stream the model's answer over their guarded output."""
    called = await run_tools(turn, answer.end.tool_calls, answer.tool_ctx)
    if not called:
        return
    answer.tools.extend(called)
    follow_up = with_tool_results(turn, answer.request, called).messages
    request = model_request(answer.req, answer.route, follow_up, turn.svc.tools, None)
    answer.stream = await turn.open(answer.route, request, buffered=not answer.req.stream)
    async for text in _stream(turn, answer, out):
        yield text


def _counted(turn: Turn, route: str, deployment: str, cost: float, cache: str) -> None:
    """A successful answer and its cost, for the cost per answer by tenant, route and deployment."""
    metrics = turn.svc.metrics
    metrics.answers.labels(turn.tenant, route, deployment, cache or "none").inc()
    metrics.answer_cost.labels(turn.tenant, route, deployment).inc(cost)


def _shadow(turn: Turn, answer: _Answer, evidence: Evidence, question: str) -> None:
    """Hand the request to the shadow runner when a shadow rollout covers it (never shown, no tools)."""
    choice = turn.choice
    if choice is None or choice.shadow is None:
        return
    candidate = choice.shadow
    request = shadow_request(candidate, answer.request, answer.history, answer.excerpts, evidence.text)
    outputs = tuple(r.output for r in evidence.raw) + ((evidence.text,) if evidence.raw else ())
    job = ShadowJob(
        turn.tenant,
        turn.request_id,
        choice.rollout,
        candidate,
        answer.route,
        request,
        turn.guards.output,
        turn.vault,
        question,
        outputs,
        tuple(_names(turn)),
    )
    turn.svc.shadows.submit(job)


def _names(turn: Turn) -> list[str]:
    """The tenant's device and tool names: what anchors a claim in the answer to a check."""
    devices = turn.svc.toolbox.inventory.for_tenant(turn.tenant).devices
    return [d.name for d in devices] + turn.svc.tools.names


def _report(turn: Turn, answer: _Answer, cost: float, evidence: Evidence) -> dict[str, object]:
    """The `netops` field of the response."""
    return {
        "findings": evidence.report(),
        "checks": [{**r.summary(), "output": text} for r, text in evidence.ran],
        "route": answer.route.name,
        "deployment": answer.stream.deployment.name,
        "degraded": answer.stream.degraded(),  # {from, to, reason} when a fallback served it
        "cost_usd": round(cost, 8),
        "policy": turn.guards.policy_id,
        "prompts": turn.prompts.version,
        "citations": [hit.citation() for hit, _ in answer.excerpts],
        "tools": [{**r.summary(), "output": text} for r, text in answer.tools],
        "redactions": turn.vault.count,
        "warnings": turn.trail.warnings,
        "confirmation_required": turn.trail.confirmations(),
        "timings_ms": turn.timed(),
    }


def _completed(turn: Turn, answer: _Answer, cost: float, evidence: Evidence) -> ChatCompleted:
    """The audit record of an answered request: digests, labels and counts, never text or secret values."""
    end = answer.end
    return ChatCompleted(
        tenant=turn.tenant,
        request_id=turn.request_id,
        key_id=turn.key_id,
        route=answer.route.name,
        deployment=answer.stream.deployment.name,
        prompt_digest=digest(answer.history),
        stream=answer.req.stream,
        prompt_tokens=end.prompt_tokens,
        completion_tokens=end.completion_tokens,
        cost_usd=cost,
        routing=answer.stream.summary(),
        finish_reason=end.finish_reason,
        policy=turn.guards.policy_id,
        verdicts=turn.trail.summaries(),
        citations=[hit.citation() for hit, _ in answer.excerpts],
        tools=[r.summary() for r, _ in answer.tools],
        findings=len(evidence.findings),
        prompts=turn.prompts.version,
        checks=[r.summary() for r, _ in evidence.ran],
        timings_ms=turn.timed(),
        cached_steps=turn.cached_steps,
    )
