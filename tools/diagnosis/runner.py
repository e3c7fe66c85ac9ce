"""Run a plan of checks and read the findings: the one call the gateway makes for evidence-first diagnosis.

`diagnose` goes text -> entities -> plan -> checks (through the caller's `invoke`, so the gateway keeps its
own grants, guardrails and audit on every call) -> findings -> a rendered block. A check that is refused or
fails is kept as a `CheckFailure` and does not stop the others.

Example:
    net = NetworkMap.from_lab(toolbox.inventory.for_tenant(ctx.tenant))
    d = await diagnose(user_text, excerpts, ctx, toolbox.registry, net,
                       invoke=lambda name, args: toolbox.registry.invoke(name, args, ctx))
    d.text        # "Findings from 6 read-only checks: 1 problem\\nPROBLEM r1: BGP neighbor 10.0.13.2 (r3) ..."
    d.problems    # [Finding(...)]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.diagnosis.entities import Entities, extract_entities
from tools.diagnosis.facts import Finding, Severity
from tools.diagnosis.findings import findings_from, render_findings
from tools.diagnosis.network import NetworkMap
from tools.diagnosis.planner import DEFAULT_BUDGET, PlannedCheck, plan_checks
from tools.errors import ToolError
from tools.registry import ToolContext, ToolRegistry, ToolResult

__all__ = ["CheckFailure", "CheckRun", "Diagnosis", "Invoke", "diagnose", "run_checks"]

Invoke = Callable[[str, Mapping[str, Any]], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """A planned check that was refused or failed: its error code and detail (never its output)."""

    check: PlannedCheck
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What running a plan gave: the results in plan order, and the checks that failed."""

    results: tuple[ToolResult, ...]
    failures: tuple[CheckFailure, ...]

    def failed_outputs(self) -> list[ToolResult]:
        """Checks that ran and failed (`tool_failed`: ping's "Network is unreachable"), with the error as their
        output, so the parsers read them like any output. Refused checks are not evidence and are left out."""
        return [
            ToolResult(f.check.tool, f.check.arguments, f.detail, 0.0) for f in self.failures if f.code == "tool_failed"
        ]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Everything one diagnosis produced, from the entities to the rendered findings."""

    entities: Entities
    plan: tuple[PlannedCheck, ...]
    run: CheckRun
    findings: tuple[Finding, ...]
    text: str

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.PROBLEM]


async def run_checks(checks: Sequence[PlannedCheck], invoke: Invoke) -> CheckRun:
    """Run each check in order through `invoke`; a `ToolError` becomes a `CheckFailure`."""
    results: list[ToolResult] = []
    failures: list[CheckFailure] = []
    for check in checks:
        try:
            results.append(await invoke(check.tool, check.arguments))
        except ToolError as exc:
            failures.append(CheckFailure(check, exc.code, exc.detail))
    return CheckRun(tuple(results), tuple(failures))


async def diagnose(
    text: str,
    excerpts: Iterable[str],
    ctx: ToolContext,
    registry: ToolRegistry,
    network: NetworkMap,
    *,
    invoke: Invoke,
    budget: int = DEFAULT_BUDGET,
) -> Diagnosis:
    """Entities from `text`, a plan within `budget`, the checks run through `invoke`, and their findings."""
    entities = extract_entities(text, network)
    plan = plan_checks(entities, network, excerpts, ctx, registry, budget=budget)
    run = await run_checks(plan, invoke)
    outputs = [*run.results, *run.failed_outputs()]
    findings = findings_from(outputs, entities, network)
    rendered = render_findings(findings, checks=len(outputs))
    return Diagnosis(entities, tuple(plan), run, tuple(findings), rendered)
