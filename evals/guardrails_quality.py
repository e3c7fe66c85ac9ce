"""Detection quality of the guardrail scanners on the labelled data sets: recall, precision, F1, FPR.

Each function returns a `Quality` row; `netops bench guardrails` prints them as a table and writes JSON.
Sets: network-secret config lines (repo), prompt injections and benign NOC prompts (repo, held out from
training), BIPIA indirect-injection test splits and the Presidio synthetic PII set (shared data).
Secret redaction is also measured per line on the independent vendor-config set (`independent_redaction`:
recall, value replaced with the readable part kept, false positives per 1,000 benign lines).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.guardrails_data import (
    SHARED_DIR,
    LabelledText,
    SecretLine,
    load_benign_prose,
    load_bipia,
    load_independent,
    load_lines,
    load_secret_lines,
)
from evals.guardrails_train import independent_injection, runbook_segments
from guardrails.injection import InjectionScanner
from guardrails.pii import PiiScanner
from guardrails.scanner import ScanContext, Stage
from guardrails.secrets import SecretsScanner

__all__ = [
    "PII_TYPES",
    "Quality",
    "RedactionQuality",
    "format_redaction",
    "independent_redaction",
    "injection_quality",
    "pii_quality",
    "redaction_quality",
    "secrets_quality",
]

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
            caught = _caught(row, verdict.text)
            tp, fn = tp + caught, fn + (not caught)
        else:
            flagged = verdict.text != row.text
            fp, tn = fp + flagged, tn + (not flagged)
    return [Quality("secrets", f"secret_lines.tsv ({len(rows)} lines)", tp, fp, fn, tn)]


@dataclass(frozen=True, slots=True)
class RedactionQuality:
    """Secret redaction on one set of lines: recall by line, readable part kept, false positives on benign lines.

    A secret line is caught when none of its secret values survive; its value is replaced (readable part kept)
    when the output equals the input with each secret value, and nothing else, turned into a placeholder.
    """

    dataset: str
    secret_lines: int
    caught: int
    value_replaced: int
    benign_lines: int
    flagged: int
    missed: tuple[str, ...] = ()

    @property
    def recall(self) -> float:
        return self.caught / self.secret_lines if self.secret_lines else float("nan")

    @property
    def replaced_rate(self) -> float:
        return self.value_replaced / self.secret_lines if self.secret_lines else float("nan")

    @property
    def fp_per_1000(self) -> float:
        return 1000 * self.flagged / self.benign_lines if self.benign_lines else float("nan")

    def as_dict(self) -> dict[str, object]:
        counts = {k: v for k, v in asdict(self).items() if k != "missed"}
        rates = {k: getattr(self, k) for k in ("recall", "replaced_rate", "fp_per_1000")}
        return {**counts, **{k: None if math.isnan(v) else round(v, 4) for k, v in rates.items()}}  # JSON has no NaN


_PLACEHOLDER = r"<SECRET:[a-z0-9-]+:\d+>"


def _caught(line: SecretLine, redacted: str) -> bool:
    """No secret value survives: each value occurs at most as often as it occurs in the line outside its secrets."""
    bare = re.sub(_PLACEHOLDER, "\0", redacted)  # a placeholder's label may contain a value (`community`)
    return all(bare.count(v) <= line.text.count(v) - line.secrets.count(v) for v in set(line.secrets))


def _value_replaced(line: SecretLine, redacted: str) -> bool:
    """True when `redacted` is `line` with only occurrences of its secret values turned into placeholders."""
    values = sorted(set(line.secrets), key=len, reverse=True)
    parts = re.split("(" + "|".join(re.escape(v) for v in values) + ")", line.text)
    pattern = "".join(f"(?:{re.escape(p)}|{_PLACEHOLDER})" if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.fullmatch(pattern, redacted) is not None


def redaction_quality(scanner: SecretsScanner, name: str, lines: Sequence[SecretLine]) -> RedactionQuality:
    """Scan each line on its own (as `netops guard scan` would a one-line config) and count the outcomes."""
    caught = replaced = flagged = benign = 0
    missed: list[str] = []
    for line in lines:
        text = scanner.scan(line.text, ScanContext("bench", Stage.INPUT)).text
        if not line.secrets:
            benign += 1
            flagged += text != line.text
            continue
        hit = _caught(line, text)
        caught += hit
        replaced += hit and _value_replaced(line, text)
        if not hit:
            missed.append(line.text)
    positives = sum(1 for line in lines if line.secrets)
    return RedactionQuality(name, positives, caught, replaced, benign, flagged, tuple(missed))


def independent_redaction(scanner: SecretsScanner, shared: Path = SHARED_DIR) -> list[RedactionQuality]:
    """Our own set, the independent dev and test splits (the headline is test), and runbook prose (benign only)."""
    prose = [SecretLine("prose", text, ()) for text in load_benign_prose(shared)]
    return [
        redaction_quality(scanner, "own: secret_lines.tsv", load_secret_lines()),
        redaction_quality(scanner, "independent dev", load_independent("dev")),
        redaction_quality(scanner, "independent test", load_independent("test")),
        redaction_quality(scanner, "runbooks (benign prose)", prose),
    ]


def format_redaction(rows: Sequence[RedactionQuality]) -> str:
    """Side-by-side table: recall by line, value replaced (readable part kept), false positives per 1,000 benign."""
    head = f"{'secrets redaction':<28} {'recall':>7} {'replaced':>9} {'FP/1k':>7}  secret lines  benign lines"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.dataset:<28} {r.recall:>7.3f} {r.replaced_rate:>9.3f} {r.fp_per_1000:>7.2f}  "
            f"{r.caught:>5}/{r.secret_lines:<6} {r.flagged:>5}/{r.benign_lines}"
        )
    return "\n".join(lines)


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
    """The independent public set's test split first (evals/data/injection; its dev split trains the input head),
    then direct injections vs benign NOC prompts on input, BIPIA and planted instructions vs runbooks on context."""
    direct = load_lines("injection_eval.txt", attack=True)
    noc = load_lines("noc_benign_eval.txt", attack=False)
    planted = load_lines("context_attack_eval.txt", attack=True)
    runbooks = runbook_segments(held_out=True)
    return [
        _binary(scanner, "independent test: jailbreaks in the wild, DAN, PromptInject + alerts, sentences",
                independent_injection("test"), Stage.INPUT),
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
