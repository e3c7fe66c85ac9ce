"""Retrieval quality: alert-to-runbook cases, recall@k / MRR@10 / nDCG@10, and the promote gate.

Each case is an alert (name, summary, description) and the runbook path it should find. Ranking is by
document: the chunks returned are collapsed to their paths in order of first appearance.

Example:
    cases = load_cases(Path("../shared/data/evals/alert-to-runbook.jsonl"))
    scores = evaluate(index, cases, mode="hybrid")          # the live version
    scores.recall_at_5, scores.mrr_at_10
    EvalGate(cases, tolerance=0.02).check(index, candidate="runbooks-v4", baseline="runbooks-v3").passed
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import EvalSetMismatch

if TYPE_CHECKING:
    from retrieval.index import RunbookIndex

__all__ = ["ALERT_FIELDS", "SPLITS", "EvalCase", "EvalGate", "GateReport", "Scores", "evaluate", "load_cases"]

GATE_METRICS = ("recall_at_5", "mrr_at_10")


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One query and the runbook path that answers it."""

    query: str
    expected: str


@dataclass(frozen=True, slots=True)
class Scores:
    """Mean metrics over the cases; `misses` lists queries whose runbook was not in the top 10."""

    cases: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float
    misses: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "cases": self.cases,
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "ndcg@10": round(self.ndcg_at_10, 4),
        }


@dataclass(frozen=True, slots=True)
class GateReport:
    """The gate's decision, with both versions' scores."""

    passed: bool
    candidate: Scores
    baseline: Scores | None
    failures: tuple[str, ...]

    def summary(self) -> str:
        if self.failures:
            return "; ".join(self.failures)
        c = self.candidate
        return f"passed (recall@5 {c.recall_at_5:.3f}, mrr@10 {c.mrr_at_10:.3f} over {c.cases} cases)"


ALERT_FIELDS = ("alert", "summary", "description")
SPLITS = ("all", "dev", "test")


def load_cases(path: Path, *, fields: Sequence[str] = ALERT_FIELDS, split: str = "all") -> list[EvalCase]:
    """Cases from a JSONL file of `{alert, summary, description, runbook}` (or `{query, runbook}`).

    `fields` picks what the query is made of (`("description",)` is the hard form: no alert name to match a
    file name); a row without any of them falls back to all of them. `split` keeps the `dev` or `test` half, by
    a stable hash of the row's alert name (or query): tune on `dev`, quote `test`.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    cases: list[EvalCase] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        key = str(row.get("alert") or row.get("query"))
        if split != "all" and ("test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 else "dev") != split:
            continue
        parts = [str(row[k]) for k in fields if row.get(k)] or [str(row[k]) for k in ALERT_FIELDS if row.get(k)]
        cases.append(EvalCase(row.get("query") or " ".join(parts), str(row["runbook"])))
    return cases


def evaluate(
    index: RunbookIndex, cases: Sequence[EvalCase], *, mode: str | None = None, version: str | None = None
) -> Scores:
    """Score one version (default: the live one) in one mode (default: the index's) over `cases`."""
    ranks: list[int | None] = []
    misses: list[str] = []
    for case in cases:
        hits = index.search("global", case.query, 30, clearance="restricted", mode=mode, version=version)
        paths = list(dict.fromkeys(h.path for h in hits))[:10]
        rank = paths.index(case.expected) + 1 if case.expected in paths else None
        ranks.append(rank)
        if rank is None:
            misses.append(case.query[:80])
    n = max(len(cases), 1)
    return Scores(
        cases=len(cases),
        recall_at_1=sum(1 for r in ranks if r == 1) / n,
        recall_at_5=sum(1 for r in ranks if r is not None and r <= 5) / n,
        mrr_at_10=sum(1 / r for r in ranks if r is not None) / n,
        ndcg_at_10=sum(1 / math.log2(r + 1) for r in ranks if r is not None) / n,
        misses=tuple(misses),
    )


@dataclass(frozen=True)
class EvalGate:
    """Refuses a candidate whose recall@5 or MRR@10 falls more than `tolerance` below the live version's.

    It also refuses to judge with an eval set that is not about this index: when fewer than `coverage` of the
    cases' expected runbooks are documents of the candidate, the scores say nothing about it (a gate over
    another corpus once passed a version at recall@5 0.000). A first version, with nothing live to compare
    against, must reach `floor` recall@5 on its own.
    """

    cases: Sequence[EvalCase]
    tolerance: float = 0.02
    mode: str | None = None
    floor: float = 0.5
    coverage: float = 0.9

    def check(self, index: RunbookIndex, *, candidate: str, baseline: str | None) -> GateReport:
        if not self.cases:
            raise EvalSetMismatch("the retrieval eval set is empty; a gate needs cases about this index")
        documents = index.manifest(candidate).documents
        missing = sorted({c.expected for c in self.cases if c.expected not in documents})
        covered = sum(1 for c in self.cases if c.expected in documents) / len(self.cases)
        if covered < self.coverage:
            raise EvalSetMismatch(
                f"the eval set does not belong to {candidate}: {len(missing)} of its expected runbooks are not in it "
                f"(e.g. {', '.join(missing[:3])}); point retrieval.eval_set at cases for this corpus"
            )
        new = evaluate(index, self.cases, mode=self.mode, version=candidate)
        if baseline is None:
            low = new.recall_at_5 < self.floor
            floor: tuple[str, ...] = (f"recall@5 {new.recall_at_5:.3f} < floor {self.floor}",) if low else ()
            return GateReport(not floor, new, None, floor)
        old = evaluate(index, self.cases, mode=self.mode, version=baseline)
        failures = tuple(
            f"{metric} {getattr(new, metric):.3f} < {getattr(old, metric):.3f} - {self.tolerance} ({baseline})"
            for metric in GATE_METRICS
            if getattr(new, metric) < getattr(old, metric) - self.tolerance
        )
        return GateReport(not failures, new, old, failures)
