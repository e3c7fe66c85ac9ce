"""The deterministic tier: no model, seconds, run by CI on every change.

Over the platform's real parts (the tenant's guardrail policy, the runbook index, the check planner):

    golden     answer: the retrieved excerpts include a runbook of `cite` (`retrieves_cited`), the planner picks
               one of `checks` (`plans_check`), the input guardrails let it through (`not_refused`);
               redact: every secret is gone from what the model would see (`redacted`);
               refuse: the input guardrails refuse it (`refused`);
               output: the output guardrails block, redact, flag or allow the text as expected (`output_guard`)
    retrieval  each alert-to-runbook query (and each repo NOC query) finds its runbook in the top 5 (`found@5`),
               with its reciprocal rank (`rr@10`); recall@5 and MRR@10 per set as aggregates
    guardrails the shipped labelled sets (`evals/data/guardrails`): secrets recall/FPR, injection recall/FPR
               on input and on context, as aggregates

Example:
    with services_for(settings, Path(tmp)) as svc:
        result = run_deterministic(svc, load_golden(), retrieval_sets=default_retrieval_sets(settings))
"""

from __future__ import annotations

import importlib.resources
import re
import time
from collections.abc import Mapping
from pathlib import Path

from evals.guardrails_data import LabelledText, load_lines, load_secret_lines
from evals.suite.golden import GoldenCase, Kind
from evals.suite.results import CaseResult, TierResult
from gateway.services import Services
from gateway.settings import Settings
from guardrails import Action, GuardrailError, ScanContext, Stage, TenantGuards, Vault
from guardrails.injection import InjectionScanner
from retrieval import EvalCase, load_cases
from tools.diagnosis import NetworkMap, extract_entities, plan_checks

__all__ = ["default_retrieval_sets", "run_deterministic"]

TENANT = "demo"


def default_retrieval_sets(settings: Settings) -> dict[str, Path]:
    """The alert-to-runbook set (settings `retrieval.eval_set`) and the repo's NOC questions."""
    sets = {}
    if settings.retrieval.eval_set is not None:
        sets["alerts"] = settings.retrieval.eval_set
    sets["noc"] = Path(str(importlib.resources.files("evals").joinpath("data/retrieval/noc-questions.jsonl")))
    return sets


def run_deterministic(
    svc: Services, cases: list[GoldenCase], *, retrieval_sets: Mapping[str, Path], tenant: str = TENANT
) -> TierResult:
    """Every golden case, every retrieval query and the guardrail sets (see the module docstring)."""
    started = time.perf_counter()
    result = TierResult("deterministic")
    result.cases += [_golden(svc, case, tenant) for case in cases]
    for name, path in retrieval_sets.items():
        if not path.is_file():
            result.meta.setdefault("skipped", []).append(f"retrieval set {name}: no file at {path}")
            continue
        rows = [_retrieval(svc, name, i, q) for i, q in enumerate(load_cases(path), start=1)]
        result.cases += rows
        result.extra[f"retrieval:{name}:recall@5"] = round(sum(r.checks["found@5"] for r in rows) / len(rows), 4)
        result.extra[f"retrieval:{name}:mrr@10"] = round(sum(r.scores["rr@10"] or 0.0 for r in rows) / len(rows), 4)
    result.extra |= _guardrail_sets(svc.guards.for_tenant(tenant))
    result.meta |= {
        "seconds": round(time.perf_counter() - started, 1),
        "policy": svc.guards.for_tenant(tenant).policy_id,
    }
    return result


def _golden(svc: Services, case: GoldenCase, tenant: str) -> CaseResult:
    guards = svc.guards.for_tenant(tenant)
    row = CaseResult(case.id, case.kind.value)
    if case.kind is Kind.OUTPUT:
        _output(guards, case, row)
        return row
    try:
        guarded = guards.input.run(case.question, ScanContext(tenant, Stage.INPUT, Vault()))
    except GuardrailError as exc:
        row.check("refused" if case.kind is Kind.REFUSE else "not_refused", case.kind is Kind.REFUSE, exc.detail)
        return row
    if case.kind is Kind.REFUSE:
        row.check("refused", False, "the input guardrails let it through")
        return row
    row.check("not_refused", True)
    if case.kind is Kind.REDACT:
        leaked = [v for v in case.redact if v in guarded.text]
        row.check("redacted", not leaked, f"reaches the model in clear: {', '.join(_mask(v) for v in leaked)}")
    if case.cite:
        paths = _paths(svc, tenant, guarded.text)
        row.detail["retrieved"] = paths
        row.check("retrieves_cited", bool(set(paths) & set(case.cite)), f"retrieved {paths}, none of {list(case.cite)}")
    if case.checks:
        planned = _planned(svc, tenant, guarded.text)
        row.detail["planned"] = planned
        hit = bool(set(planned) & set(case.checks))
        row.check("plans_check", hit, f"planned {planned or 'nothing'}, none of {list(case.checks)}")
    return row


def _output(guards: TenantGuards, case: GoldenCase, row: CaseResult) -> None:
    try:
        result = guards.output.run(case.output, ScanContext(TENANT, Stage.OUTPUT, Vault()))
    except GuardrailError as exc:
        row.check("output_guard", case.expect == "block", f"blocked ({exc.detail}), expected {case.expect}")
        return
    flagged = any(v.action is Action.FLAG for v in result.verdicts)
    changed = result.text != case.output
    seen = "flag" if flagged else "redact" if changed else "allow"
    redacted = changed and not any(v in result.text for v in case.redact)
    ok = redacted if case.expect == "redact" else seen == case.expect
    row.check("output_guard", ok, f"{seen}, expected {case.expect}")


def _paths(svc: Services, tenant: str, question: str) -> list[str]:
    hits = svc.retriever.search(tenant, question, svc.settings.retrieval.top_k, clearance="restricted")
    return list(dict.fromkeys(h.path for h in hits))


def _planned(svc: Services, tenant: str, question: str) -> list[str]:
    """The read-only checks the gateway would run for this question (no device is touched)."""
    policy = svc.toolbox.inventory.for_tenant(tenant)
    if not policy.devices:
        return []
    network = NetworkMap.from_lab(policy) if policy.diagnosis.topology == "lab" else NetworkMap.from_inventory(policy)
    ctx = svc.toolbox.context(tenant, svc.tools.names, role="user", key_id="eval", request_id="eval")
    excerpts = [h.text for h in svc.retriever.search(tenant, question, svc.settings.retrieval.top_k)]
    plan = plan_checks(extract_entities(question, network), network, excerpts, ctx, svc.tools)
    return list(dict.fromkeys(c.tool for c in plan[: policy.diagnosis.max_checks]))


def _retrieval(svc: Services, name: str, n: int, case: EvalCase) -> CaseResult:
    hits = svc.retriever.search("global", case.query, 30, clearance="restricted")
    paths = list(dict.fromkeys(h.path for h in hits))[:10]
    rank = paths.index(case.expected) + 1 if case.expected in paths else None
    slug = re.sub(r"[^a-z0-9]+", "-", case.query.lower())[:40].strip("-")
    row = CaseResult(f"{name}/{n:02d}-{slug}", "retrieval", detail={"query": case.query[:200], "rank": rank})
    row.check("found@5", rank is not None and rank <= 5, f"{case.expected} at rank {rank or '>10'}")
    row.scores["rr@10"] = 1.0 / rank if rank else 0.0
    return row


def _guardrail_sets(guards: TenantGuards) -> dict[str, float]:
    """Recall and FPR on the repo's labelled sets, with the policy's own scanners."""
    out: dict[str, float] = {}
    secrets = next((s for s in guards.input.scanners if s.name == "secrets"), None)
    if secrets is not None:
        tp = fp = fn = tn = 0
        for row in load_secret_lines():
            text = secrets.scan(row.text, ScanContext("eval", Stage.INPUT, Vault())).text
            if row.secrets:
                caught = not any(value in text for value in row.secrets)
                tp, fn = tp + caught, fn + (not caught)
            else:
                flagged = text != row.text
                fp, tn = fp + flagged, tn + (not flagged)
        out |= _rates("guardrails:secrets", tp, fp, fn, tn)
    injection = next((s for s in guards.input.scanners if isinstance(s, InjectionScanner)), None)
    if injection is not None:
        attacks = load_lines("injection_eval.txt", attack=True)
        out |= _injection(injection, "input", attacks + load_lines("noc_benign_eval.txt", attack=False))
        out |= _injection(injection, "context", attacks + load_lines("context_attack_eval.txt", attack=True))
    return out


def _injection(scanner: InjectionScanner, stage: str, items: list[LabelledText]) -> dict[str, float]:
    kind = Stage(stage)
    limit = scanner.context_threshold if kind is Stage.CONTEXT else scanner.threshold
    tp = fp = fn = tn = 0
    for item in items:
        hit = scanner.assess(item.text, kind).score >= limit
        if item.attack:
            tp, fn = tp + hit, fn + (not hit)
        else:
            fp, tn = fp + hit, tn + (not hit)
    return _rates(f"guardrails:injection-{stage}", tp, fp, fn, tn)


def _rates(name: str, tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    out = {f"{name}:recall": round(tp / (tp + fn), 4) if tp + fn else 1.0}
    if fp + tn:
        out[f"{name}:fpr"] = round(fp / (fp + tn), 4)
    return out


def _mask(value: str) -> str:
    return value[:3] + "***"
