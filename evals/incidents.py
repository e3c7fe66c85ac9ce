"""`netops eval incidents`: the incident assistant on the live FRR lab, end to end.

For each fault: inject it, wait for the protocol timers, send the alert an engineer would paste through the
OpenAI API (streaming, like the chat UI) to a real gateway on the embedded model, and score:

    checks    a check the fault shows in ran               runbook   the expected runbook was cited
    finding   a problem finding names the fault and place  audit     every check and the answer are audited
    t_find    seconds to the `findings` event              t_answer  seconds to the end of the answer
    model     the model's own answer names it (reported separately: the findings are the contract)

Cases live in `evals/data/incidents/lab.yaml`. Needs root (network namespaces).

Example:
    report = run_incidents(settings, cases, progress=print)
    print(format_table(report))
"""

from __future__ import annotations

import importlib.resources
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["IncidentCase", "IncidentScore", "format_table", "load_cases", "score_answer"]


@dataclass(frozen=True, slots=True)
class IncidentCase:
    """One fault and what a good diagnosis of it says."""

    fault: str
    alert: str
    runbook: str
    tools: tuple[str, ...]
    finding: str
    model: tuple[str, ...]
    settle_s: float = 5.0


@dataclass
class IncidentScore:
    """How one case went."""

    fault: str
    checks_ok: bool = False
    runbook_ok: bool = False
    finding_ok: bool = False
    audit_ok: bool = False
    model_ok: bool = False
    t_find_s: float | None = None
    t_answer_s: float | None = None
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    answer: str = ""
    error: str = ""

    @property
    def named(self) -> bool:
        """The goal: the findings name the fault and its place, in under 15 s."""
        return self.finding_ok and self.t_find_s is not None and self.t_find_s < 15.0


def load_cases(path: Path | None = None) -> list[IncidentCase]:
    """The packaged lab cases, or a YAML file of the same shape."""
    if path is None:
        text = importlib.resources.files("evals").joinpath("data/incidents/lab.yaml").read_text()
    else:
        text = path.read_text()
    return [
        IncidentCase(
            fault=str(c["fault"]),
            alert=str(c["alert"]),
            runbook=str(c["runbook"]),
            tools=tuple(c["tools"]),
            finding=str(c["finding"]),
            model=tuple(str(w) for w in c["model"]),
            settle_s=float(c.get("settle_s", 5.0)),
        )
        for c in yaml.safe_load(text)
    ]


def score_answer(case: IncidentCase, events: Iterator[dict[str, Any]], started: float) -> IncidentScore:
    """Score one streamed answer: its progress events, text and final `netops` field."""
    score = IncidentScore(case.fault)
    parts: list[str] = []
    netops: dict[str, Any] = {}
    for event in events:
        extra = event.get("netops") or {}
        if extra.get("event") == "findings" and score.t_find_s is None:
            score.t_find_s = round(time.perf_counter() - started, 2)
        for choice in event.get("choices") or []:
            parts.append((choice.get("delta") or {}).get("content") or "")
        if "findings" in extra and "event" not in extra:
            netops = extra
    score.t_answer_s = round(time.perf_counter() - started, 2)
    score.answer = "".join(parts)
    score.checks = [f"{c['name']} {json.dumps(c['arguments'], sort_keys=True)}" for c in netops.get("checks", [])]
    score.problems = [f["headline"] for f in netops.get("findings", []) if f["severity"] == "problem"]
    score.cited = [str(c["path"]) for c in netops.get("citations", [])]
    score.checks_ok = any(c.split(" ", 1)[0] in case.tools for c in score.checks)
    score.runbook_ok = any(case.runbook in path for path in score.cited)
    score.finding_ok = any(p.startswith(case.finding) for p in score.problems)
    lowered = score.answer.lower()
    score.model_ok = all(word.lower() in lowered for word in case.model)
    if "error" in netops:
        score.error = f"{netops['error'].get('code')}: {netops['error'].get('detail')}"
    return score


def summarize(scores: list[IncidentScore]) -> dict[str, Any]:
    """Totals over the cases."""
    n = len(scores) or 1
    finds = sorted(s.t_find_s for s in scores if s.t_find_s is not None)
    return {
        "cases": len(scores),
        "named_under_15s": sum(s.named for s in scores),
        "findings_name_fault": sum(s.finding_ok for s in scores),
        "right_checks": sum(s.checks_ok for s in scores),
        "runbook_cited": sum(s.runbook_ok for s in scores),
        "audited": sum(s.audit_ok for s in scores),
        "model_names_fault": sum(s.model_ok for s in scores),
        "t_find_median_s": finds[len(finds) // 2] if finds else None,
        "t_find_max_s": finds[-1] if finds else None,
        "named_rate": round(sum(s.named for s in scores) / n, 3),
    }


def format_table(report: dict[str, Any]) -> str:
    """The per-case table and the totals."""
    rows = [
        "| fault | findings name it | checks | runbook | audit | t_find s | t_answer s | model names it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    yes = {True: "yes", False: "NO"}
    for s in report["cases"]:
        rows.append(
            f"| {s['fault']} | {yes[s['finding_ok']]} | {yes[s['checks_ok']]} | {yes[s['runbook_ok']]} "
            f"| {yes[s['audit_ok']]} | {s['t_find_s']} | {s['t_answer_s']} | {yes[s['model_ok']]} |"
        )
    t = report["summary"]
    rows.append("")
    rows.append(
        f"findings name the fault and its place in < 15 s: {t['named_under_15s']}/{t['cases']} "
        f"(goal 9/10); right checks {t['right_checks']}, runbook cited {t['runbook_cited']}, "
        f"audited {t['audited']}; the model's own answer names it: {t['model_names_fault']}/{t['cases']}; "
        f"time to findings median {t['t_find_median_s']} s, max {t['t_find_max_s']} s"
    )
    return "\n".join(rows)


def report_of(scores: list[IncidentScore], meta: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summarize(scores), "cases": [asdict(s) | {"named": s.named} for s in scores], **meta}


Progress = Callable[[str], None]
