"""Evidence first: before the model answers, the gateway plans read-only checks from the question, the
retrieved runbook and the tenant's inventory, runs them through the registry (grants, allow-lists, audit),
and turns their output into findings. The model gets the findings and the guarded outputs as data; the
answer is then checked against them.

    async for item in gather(turn, question, excerpts, ctx):
        Progress -> streamed to the client (check.start, check.end, findings)
        Evidence -> the checks, their outputs, the findings

A budget bounds the work: at most `max_checks` checks, and no check starts after `max_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.prompting import evidence_message
from gateway.steps import invoke_audited
from gateway.turn import Turn
from guardrails import ScanContext, Stage
from routing import ModelRequest
from tools import ToolContext, ToolError, ToolResult
from tools.diagnosis import (
    Finding,
    NetworkMap,
    PlannedCheck,
    Unsupported,
    check_answer,
    extract_entities,
    findings_from,
    plan_checks,
    render_findings,
)

__all__ = ["Evidence", "Progress", "gather", "unsupported_claims", "with_evidence"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event for the client: `{"event": "check.start" | "check.end" | "findings", ...}`."""

    netops: dict[str, object]


@dataclass
class Evidence:
    """The checks that ran (raw result for the parsers, guarded output for everyone else) and the findings."""

    ran: list[tuple[ToolResult, str]] = field(default_factory=list)
    raw: list[ToolResult] = field(default_factory=list)  # what the parsers read, tool failures included
    findings: list[Finding] = field(default_factory=list)
    text: str = ""  # the rendered findings, guarded

    def report(self) -> list[dict[str, object]]:
        """The findings for the client; one seen in a cached tool output says how old it is (`age_s`)."""
        ages = {(r.tool, str(r.arguments.get("device", ""))): r.age_s for r in self.raw if r.age_s is not None}
        found = []
        for f in self.findings:
            item = _finding(f)
            age = ages.get((f.tool, f.checked_on or f.device))
            if age is not None:
                item["age_s"] = round(age, 1)
            found.append(item)
        return found


async def gather(
    turn: Turn, question: str, excerpts: Sequence[str], ctx: ToolContext
) -> AsyncIterator[Progress | Evidence]:
    """Plan and run the checks for `question`, yielding progress, then the `Evidence` last."""
    evidence = Evidence()
    policy = turn.svc.toolbox.inventory.for_tenant(ctx.tenant)
    if not policy.diagnosis.enabled or not policy.devices or not question.strip():
        yield evidence
        return
    network = NetworkMap.from_lab(policy) if policy.diagnosis.topology == "lab" else NetworkMap.from_inventory(policy)
    entities = extract_entities(question, network)
    plan = plan_checks(entities, network, excerpts, ctx, turn.svc.tools, budget=policy.diagnosis.max_checks)
    deadline = time.monotonic() + policy.diagnosis.max_seconds
    for n, check in enumerate(plan, 1):
        if time.monotonic() > deadline:
            turn.trail.warnings.append(f"diagnosis: {len(plan) - n + 1} check(s) skipped, time budget spent")
            break
        yield Progress({"event": "check.start", "check": _check(n, check)})
        yield Progress({"event": "check.end", "check": await _run(turn, n, check, ctx, evidence)})
    if evidence.raw:
        await _conclude(turn, evidence, findings_from(evidence.raw, entities, network), ctx)
        yield Progress({"event": "findings", "findings": evidence.report()})
    yield evidence


async def _conclude(turn: Turn, evidence: Evidence, findings: list[Finding], ctx: ToolContext) -> None:
    """Findings and their rendering pass the context chain (their evidence lines are raw tool output)."""
    scan = ScanContext(ctx.tenant, Stage.CONTEXT, turn.vault)
    lines = "\n".join(f.evidence.replace("\n", " ") for f in findings)
    guarded_lines = (await turn.guards.context.arun(lines, scan)).text.split("\n")
    if len(guarded_lines) == len(findings):
        findings = [replace(f, evidence=g) for f, g in zip(findings, guarded_lines, strict=True)]
    rendered = await turn.guards.context.arun(render_findings(findings, checks=len(evidence.raw)), scan)
    turn.trail.extend(rendered.verdicts)
    evidence.findings, evidence.text = findings, rendered.text


async def _run(turn: Turn, n: int, check: PlannedCheck, ctx: ToolContext, evidence: Evidence) -> dict[str, object]:
    """Run one check; a refusal or failure is reported (a failed ping is evidence too), never raised."""
    started = time.perf_counter()
    try:
        result, guarded = await invoke_audited(turn, check.tool, check.arguments, ctx)
    except ToolError as exc:
        if exc.code == "tool_failed":  # it ran and failed ("Network is unreachable"): the parsers read it
            evidence.raw.append(ToolResult(check.tool, check.arguments, exc.detail, 0.0))
        duration = round((time.perf_counter() - started) * 1000, 1)
        return {**_check(n, check), "ok": False, "duration_ms": duration, "output": f"{exc.code}: {exc.detail}"}
    turn.trail.extend(guarded.verdicts)
    evidence.ran.append((result, guarded.text))
    evidence.raw.append(result)
    done = {**_check(n, check), "ok": True, "duration_ms": round(result.duration_ms, 1), "output": guarded.text}
    if result.age_s is not None:  # from the tool cache
        done["cached_age_s"] = round(result.age_s, 1)
    return done


def with_evidence(turn: Turn, request: ModelRequest, evidence: Evidence) -> ModelRequest:
    """The request with the gateway's findings appended as untrusted data."""
    if not evidence.text:
        return request
    return replace(request, messages=[*request.messages, evidence_message(turn.prompts, evidence.text)])


def unsupported_claims(answer: str, question: str, evidence: Evidence, names: Sequence[str]) -> list[Unsupported]:
    """Numbers, states and interfaces the answer attributes to a device or tool that no output contains."""
    if not evidence.raw or not answer.strip():
        return []
    outputs = [r.output for r in evidence.raw] + [evidence.text]
    return check_answer(answer, outputs, question=question, names=names)


def _check(n: int, check: PlannedCheck) -> dict[str, Any]:
    return {"id": f"c{n}", "tool": check.tool, "arguments": check.arguments, "reason": check.reason}


def _finding(f: Finding) -> dict[str, object]:
    return {
        "severity": f.severity.value,
        "device": f.device,
        "subject": f.subject,
        "fact": f.fact,
        "tool": f.tool,
        "evidence": f.evidence,
        "headline": f.headline,
    }
