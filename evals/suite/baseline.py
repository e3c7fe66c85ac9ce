"""The committed baseline: one file per tier (`evals/baseline/<tier>.json`), per case and per metric.

Only `netops eval baseline --update` writes it, from a run's `<tier>.json`; the diff goes into the commit with
the change that moved it (a prompt edit, a new policy, a bigger golden set). What changes on every run
(timings, answer texts) is left out, so the diff shows what moved: checks, scores, notes and metrics.

Example:
    write_baseline(read_run(Path("var/eval/quality.json")), Path("evals/baseline/quality.json"))
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.suite.results import CaseResult, TierResult

__all__ = ["KEPT_DETAIL", "KEPT_META", "slim", "write_baseline"]

KEPT_DETAIL = ("retrieved", "planned", "cited", "citations", "rank")
KEPT_META = ("policy", "prompts", "model", "judge")


def slim(result: TierResult) -> TierResult:
    """The run without what changes on every run (timings, answers, contexts)."""
    cases = [
        CaseResult(
            c.id,
            c.kind,
            dict(c.checks),
            dict(c.scores),
            dict(c.notes),
            {k: v for k, v in c.detail.items() if k in KEPT_DETAIL},
        )
        for c in result.cases
    ]
    return TierResult(result.tier, cases, dict(result.extra), {k: v for k, v in result.meta.items() if k in KEPT_META})


def write_baseline(result: TierResult, path: Path) -> Path:
    """Write the slimmed run as the baseline at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(slim(result).to_json(), indent=2, sort_keys=False) + "\n")
    return path
