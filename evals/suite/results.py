"""What a tier run produces: per-case checks and scores, and the metrics derived from them.

A `CaseResult` holds pass/fail `checks` (a missing citation, a leak) and numeric `scores` in [0, 1] (a ragas
metric, a reciprocal rank); a score that could not be computed is `None` and its reason is in `notes` (e.g.
`unparsed`: the judge's answer did not parse). `TierResult.metrics()` derives, for the gate and the report:

    check:<name>   the pass rate of that check over the cases that have it
    score:<name>   the mean of that score over the cases where it was computed (never counting a None)
    <name>         any aggregate the tier adds itself (`extra`), e.g. `guardrails:secrets:recall`

Example:
    result = TierResult("deterministic", [CaseResult("bgp-flap", "answer", checks={"retrieves_cited": True})])
    result.metrics()                  # {"check:retrieves_cited": 1.0}
    TierResult.from_json(result.to_json()) == result
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CaseResult", "TierResult", "lower_is_better"]


def lower_is_better(metric: str) -> bool:
    """False-positive rates and unparsed counts go down when things get better."""
    return metric.endswith(("fpr", "unparsed"))


@dataclass
class CaseResult:
    """One case's outcome: checks, scores (None: not computed, see `notes`) and what was seen (`detail`)."""

    id: str
    kind: str
    checks: dict[str, bool] = field(default_factory=dict)
    scores: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, passed: bool, why: str = "") -> None:
        """Record a check; `why` says what went wrong when it failed."""
        self.checks[name] = passed
        if not passed and why:
            self.notes[name] = why

    def failed(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]


@dataclass
class TierResult:
    """Every case of one tier, the tier's own aggregates (`extra`) and where and how it ran (`meta`)."""

    tier: str
    cases: list[CaseResult] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def case(self, case_id: str) -> CaseResult | None:
        return next((c for c in self.cases if c.id == case_id), None)

    def metrics(self) -> dict[str, float]:
        """Check pass rates, score means and the tier's aggregates (see the module docstring)."""
        checks: dict[str, list[bool]] = {}
        scores: dict[str, list[float]] = {}
        for case in self.cases:
            for name, ok in case.checks.items():
                checks.setdefault(name, []).append(ok)
            for name, value in case.scores.items():
                values = scores.setdefault(name, [])
                if value is not None:
                    values.append(value)
        out = {f"check:{k}": round(sum(v) / len(v), 4) for k, v in sorted(checks.items())}
        out |= {f"score:{k}": round(sum(v) / len(v), 4) for k, v in sorted(scores.items()) if v}
        return out | dict(sorted(self.extra.items()))

    def missing_scores(self) -> dict[str, dict[str, int]]:
        """Per score, how many cases it was computed for and why it was not for the others (`unparsed`, ...)."""
        out: dict[str, dict[str, int]] = {}
        for case in self.cases:
            for name, value in case.scores.items():
                counts = out.setdefault(name, {"scored": 0})
                key = "scored" if value is not None else case.notes.get(name, "missing").split(":", 1)[0]
                counts[key] = counts.get(key, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "metrics": self.metrics(),
            "score_counts": self.missing_scores(),
            "extra": self.extra,
            "cases": [asdict(c) for c in self.cases],
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TierResult:
        cases = [
            CaseResult(
                id=str(c["id"]),
                kind=str(c["kind"]),
                checks=dict(c.get("checks", {})),
                scores=dict(c.get("scores", {})),
                notes=dict(c.get("notes", {})),
                detail=dict(c.get("detail", {})),
            )
            for c in data.get("cases", [])
        ]
        return cls(str(data["tier"]), cases, dict(data.get("extra", {})), dict(data.get("meta", {})))
