"""Detection quality of the guardrail scanners on the labelled data sets: recall, precision, F1, FPR.

Each function returns a `Quality` row; `netops bench guardrails` prints them as a table and writes JSON.
Sets: network-secret config lines (repo), prompt injections and benign NOC prompts (repo, held out from
training), BIPIA indirect-injection test splits and the Presidio synthetic PII set (shared data).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.guardrails_data import SHARED_DIR, LabelledText, load_bipia, load_lines, load_secret_lines
from evals.guardrails_train import runbook_segments
from guardrails.injection import InjectionScanner
from guardrails.pii import PiiScanner
from guardrails.scanner import ScanContext, Stage
from guardrails.secrets import SecretsScanner

__all__ = ["PII_TYPES", "Quality", "injection_quality", "pii_quality", "secrets_quality"]

PII_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit-card",
    "IBAN_CODE": "iban",
    "US_SSN": "ssn",
    "IP_ADDRESS": "ip-address",
}


@dataclass(frozen=True, slots=True)
class Quality:
    """Confusion counts for one scanner on one data set, with the derived rates."""

    scanner: str
    dataset: str
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.tn else float("nan")  # no negatives: undefined

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), **{k: round(getattr(self, k), 4) for k in ("recall", "precision", "f1", "fpr")}}


def secrets_quality(scanner: SecretsScanner) -> list[Quality]:
    """Per line: a positive is caught when none of its secret values survive; a benign line must pass."""
    rows = load_secret_lines()
    tp = fp = fn = tn = 0
    for row in rows:
        verdict = scanner.scan(row.text, ScanContext("bench", Stage.INPUT))
        if row.secrets:
            caught = not any(value in verdict.text for value in row.secrets)
            tp, fn = tp + caught, fn + (not caught)
        else:
            flagged = verdict.text != row.text
            fp, tn = fp + flagged, tn + (not flagged)
    return [Quality("secrets", f"secret_lines.tsv ({len(rows)} lines)", tp, fp, fn, tn)]


def _binary(scanner: InjectionScanner, name: str, items: Sequence[LabelledText], stage: Stage) -> Quality:
    limit = scanner.context_threshold if stage is Stage.CONTEXT else scanner.threshold
    tp = fp = fn = tn = 0
    for item in items:
        hit = scanner.assess(item.text, stage).score >= limit
        if item.attack:
            tp, fn = tp + hit, fn + (not hit)
        else:
            fp, tn = fp + hit, tn + (not hit)
    return Quality("prompt_injection", f"{name} [{stage.value}]", tp, fp, fn, tn)


def injection_quality(scanner: InjectionScanner, shared: Path = SHARED_DIR) -> list[Quality]:
    """Direct injections vs benign NOC prompts on input; BIPIA and planted instructions vs runbooks on context."""
    direct = load_lines("injection_eval.txt", attack=True)
    noc = load_lines("noc_benign_eval.txt", attack=False)
    planted = load_lines("context_attack_eval.txt", attack=True)
    runbooks = runbook_segments(held_out=True)
    return [
        _binary(scanner, "injection_eval + noc_benign_eval", direct + noc, Stage.INPUT),
        _binary(scanner, "bipia text_attack_test + held-out runbooks", load_bipia("text_attack_test", shared=shared)
                + runbooks, Stage.CONTEXT),
        _binary(scanner, "bipia code_attack_test", load_bipia("code_attack_test", shared=shared), Stage.CONTEXT),
        _binary(scanner, "context_attack_eval + injection_eval", planted + direct, Stage.CONTEXT),
    ]  # fmt: skip


def pii_quality(scanner: PiiScanner, shared: Path = SHARED_DIR) -> list[Quality]:
    """Span-level (overlap, same type) on the Presidio synthetic set, for the scanner's in-scope entity types."""
    data = json.loads((shared / "presidio_synth_dataset_v2.json").read_text())
    scope = {k: v for k, v in PII_TYPES.items() if v in scanner.labels.values()}
    tp = fp = fn = 0
    for sample in data:
        gold = [
            (s["start_position"], s["end_position"], scope[s["entity_type"]])
            for s in sample["spans"]
            if s["entity_type"] in scope
        ]
        pred = [(p.start, p.end, p.label) for p in scanner.find(sample["full_text"]) if p.label in scope.values()]
        used: set[int] = set()
        for start, end, label in gold:
            match = next(
                (i for i, p in enumerate(pred) if i not in used and p[2] == label and p[0] < end and start < p[1]),
                None,
            )
            if match is None:
                fn += 1
            else:
                tp += 1
                used.add(match)
        fp += len(pred) - len(used)
    types = ",".join(sorted(scope.values()))
    return [Quality("pii", f"presidio synth v2 ({len(data)}): {types}", tp, fp, fn, 0)]
