"""`netops eval run`: the three tiers, each started over a platform of its own and returning a `TierResult`.

    deterministic  no model: golden cases against the guardrails, the index and the check planner; retrieval
                   regression; guardrail sets (`evals.suite.deterministic`). Seconds; CI runs it always.
    quality        the golden questions through the real gateway on a model, scored deterministically
                   (`evals.suite.answers`) and by ragas (`evals.suite.quality`), judged through a gateway route.
    lab            the incident cases on the live FRR lab (`evals.incidents_run`); needs root.

Example:
    result = run_quality(settings, load_golden(), options=QualityOptions(judge_route="smollm2"), progress=print)
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evals.suite.golden import GoldenCase, Kind
from evals.suite.results import CaseResult, TierResult
from evals.suite.stack import Stack, eval_settings, gateway_stack, services_for
from gateway.settings import Settings
from retrieval import LazyEmbedder, scan

__all__ = ["TIERS", "QualityOptions", "TierSkipped", "run_deterministic_tier", "run_lab", "run_quality"]

TIERS = ("deterministic", "quality", "lab")
Progress = Callable[[str], None]


class TierSkipped(RuntimeError):
    """The tier cannot run here (the lab without root)."""


@dataclass(frozen=True, slots=True)
class QualityOptions:
    """How the quality tier reaches its model and its judge.

    `model_url`: an OpenAI-compatible URL of the model under test (default: the configured deployments, or the
    embedded model started on a free port). `judge_url`/`judge_key`: an OpenAI-compatible gateway for the judge
    (default: the local gateway, with a key of its `eval-judge` tenant). `judge_route`: the route (model name)
    the judge uses. `judge_cases`: judge only the first N answered cases (None: all). `no_judge`: non-LLM
    metrics only.
    """

    model_url: str | None = None
    judge_url: str | None = None
    judge_key: str | None = None
    judge_route: str = "smollm2"
    judge_cases: int | None = None
    judge_max_tokens: int = 256
    no_judge: bool = False


def run_deterministic_tier(settings: Settings, cases: list[GoldenCase], *, progress: Progress) -> TierResult:
    """The deterministic tier over a fresh index of the configured runbook sources."""
    from evals.suite.deterministic import default_retrieval_sets, run_deterministic  # noqa: PLC0415

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="netops-eval-") as tmp:
        local = eval_settings(settings, Path(tmp))
        with services_for(local, progress) as svc:
            progress("deterministic: golden cases, retrieval sets, guardrail sets")
            result = run_deterministic(svc, cases, retrieval_sets=default_retrieval_sets(settings))
    result.meta["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def run_quality(
    settings: Settings, cases: list[GoldenCase], *, options: QualityOptions, progress: Progress
) -> TierResult:
    """The golden questions through a real gateway, scored deterministically and by ragas."""
    from evals.suite.answers import ask_all  # noqa: PLC0415

    started = time.perf_counter()
    result = TierResult("quality")
    with tempfile.TemporaryDirectory(prefix="netops-eval-") as tmp:
        local = eval_settings(settings, Path(tmp), model_url=options.model_url)
        with gateway_stack(local, progress) as stack:
            asked = time.perf_counter()
            result.cases = ask_all(stack, [c for c in cases if c.asks], progress=progress)
            result.meta["answer_seconds"] = round(time.perf_counter() - asked, 1)
            judged = time.perf_counter()
            _score(stack, result.cases, cases, options, progress)
            result.meta["judge_seconds"] = round(time.perf_counter() - judged, 1)
            result.meta["prompts"] = stack.svc.prompts.for_tenant("demo").version
            result.meta["model"] = ", ".join(d.name for d in stack.svc.router.table.deployments.values())
    result.meta["judge"] = "none (non-LLM metrics only)" if options.no_judge else options.judge_route
    result.meta["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _score(
    stack: Stack, rows: list[CaseResult], cases: list[GoldenCase], options: QualityOptions, progress: Progress
) -> None:
    from evals.suite.quality import Judge, score_quality  # noqa: PLC0415 - ragas loads only for this tier

    judge = None
    if not options.no_judge:
        judge = Judge(
            url=options.judge_url or stack.v1,
            key=options.judge_key or stack.judge_key,
            route=options.judge_route,
            max_tokens=options.judge_max_tokens,
            cases=options.judge_cases,
        )
    progress(f"scoring: ragas, judge {judge.route + ' at ' + judge.url if judge else 'none'}")
    by_id = {c.id: c for c in cases}
    chunks = scan(stack.svc.settings.retrieval.sources, max_chars=stack.svc.settings.retrieval.max_chunk_chars).chunks
    references = {c.id: [ch.text for ch in chunks if ch.path in c.cite] for c in cases if c.kind is Kind.ANSWER}
    answers = {c.id: c.reference for c in cases}
    embedder = LazyEmbedder(threads=None)  # loads only if a judge asks for answer relevancy
    score_quality(rows, references, judge=judge, embedder=embedder, reference_answers=answers)
    for row in rows:
        row.detail.setdefault("reference", by_id[row.id].reference)


def run_lab(settings: Settings, *, progress: Progress) -> TierResult:
    """The incident cases on the live FRR lab (root only), as a tier result."""
    if os.geteuid() != 0:
        raise TierSkipped("the lab tier needs root (network namespaces)")
    from evals.incidents import load_cases  # noqa: PLC0415
    from evals.incidents_run import run_incidents  # noqa: PLC0415

    report = run_incidents(settings, load_cases(), progress=progress)
    result = TierResult("lab", meta={k: v for k, v in report.items() if k not in ("cases", "summary")})
    for case in report["cases"]:
        row = CaseResult(case["fault"], "incident", detail={"answer": case["answer"][:500], "error": case["error"]})
        row.check("finding_names_fault", case["finding_ok"], f"problems: {case['problems']}")
        row.check("right_checks", case["checks_ok"], f"checks: {case['checks']}")
        row.check("runbook_cited", case["runbook_ok"], f"cited: {case['cited']}")
        row.check("audited", case["audit_ok"], "a check or the answer is missing from the audit log")
        result.cases.append(row)
    result.extra["lab:named_rate"] = float(report["summary"]["named_rate"])
    return result
