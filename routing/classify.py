"""Request classes: a cheap classifier of difficulty (easy/hard) and sensitivity (must stay self-hosted).

Runs in microseconds on the guarded conversation (the user-visible turns, not our system prompt):
- sensitive: the prompt holds redacted secrets (`<SECRET:kind:n>` placeholders from the guardrails) or
  device configuration (two or more configuration-statement lines, e.g. `interface ...`, `router bgp ...`,
  `set system ...`). Sensitive requests may only go to `self_hosted` deployments.
- hard: design/analysis wording, several questions, or a long prompt. Hard requests prefer deployments at
  or above the route's `strong_quality`.
Deliberately left out: an embedding or learned model. The rules are measured on a labelled set
(`routing/data/request_classes.jsonl`) by `netops bench routing`.

Example:
    klass = classify([{"role": "user", "content": "interface Gi0/1\\n ip address 10.0.0.1 255.255.255.0"}])
    klass.sensitive, klass.difficulty, klass.reasons
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["ClassifierReport", "RequestClass", "classify", "evaluate", "load_labelled"]

LABELLED = Path(__file__).resolve().parent / "data" / "request_classes.jsonl"

_PLACEHOLDER = re.compile(r"<SECRET:[a-z_]+:\d+>")
_CONFIG_LINE = re.compile(
    r"^\s*(interface \S+|router (bgp|ospf|isis|eigrp) \S+|hostname \S+|ip address \d|ipv6 address \S|"
    r"enable (secret|password)|username \S+ .*(secret|password)|snmp-server (community|host)|"
    r"set (system|interfaces|protocols|security|policy-options) |crypto (isakmp|ipsec|key)|"
    r"tacacs-server|radius-server|ip route \d|access-list \d|neighbor \S+ (remote-as|password|update-source)|"
    r"line (vty|con)|switchport (mode|access|trunk)|vlan \d+|ntp server|logging host|aaa (new-model|authentication))",
    re.IGNORECASE | re.MULTILINE,
)
_HARD_WORDS = re.compile(
    r"\b(design|architect\w*|migrat\w+|compare|comparison|trade-?offs?|root cause|analy[sz]e|analysis|"
    r"redundan\w+|capacity plan\w*|optimi[sz]e|evaluate|strategy|plan for|step[- ]by[- ]step plan|"
    r"why does|why do|why is|explain (?:in detail|why|how)|correlate|multi-?site|failure domains?|convergence)\b",
    re.IGNORECASE,
)
_LONG_CHARS = 1200


@dataclass(frozen=True, slots=True)
class RequestClass:
    """What the router needs to know about a request, with the reasons."""

    difficulty: Literal["easy", "hard"]
    sensitive: bool
    reasons: tuple[str, ...] = ()


def classify(messages: Sequence[dict[str, Any]]) -> RequestClass:
    """Class a conversation from its non-system turns."""
    text = "\n".join(_text(m) for m in messages if m.get("role") != "system")
    reasons: list[str] = []
    secrets = len(_PLACEHOLDER.findall(text))
    config_lines = len(_CONFIG_LINE.findall(text))
    if secrets:
        reasons.append(f"{secrets} redacted secret(s)")
    if config_lines >= 2:
        reasons.append(f"{config_lines} device-config lines")
    sensitive = bool(reasons)
    hard_words = {str(w).lower() for w in _HARD_WORDS.findall(text)}
    score = len(hard_words) + (1 if text.count("?") >= 3 else 0) + (2 if len(text) > _LONG_CHARS else 0)
    if score >= 2 or (hard_words and len(text) > 300):
        reasons.append(f"hard: {', '.join(sorted(hard_words)) or 'long or many questions'}")
        return RequestClass("hard", sensitive, tuple(reasons))
    return RequestClass("easy", sensitive, tuple(reasons))


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass(frozen=True, slots=True)
class ClassifierReport:
    """The classifier's quality on a labelled set."""

    examples: int
    difficulty_accuracy: float
    sensitive_precision: float
    sensitive_recall: float
    errors: tuple[str, ...]


def load_labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    """The labelled examples: `{"text", "difficulty", "sensitive"}` per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate(examples: Iterable[dict[str, Any]]) -> ClassifierReport:
    """Accuracy of difficulty, precision and recall of sensitivity, and the misclassified examples."""
    n = right = tp = fp = fn = 0
    errors: list[str] = []
    for ex in examples:
        got = classify([{"role": "user", "content": ex["text"]}])
        n += 1
        right += got.difficulty == ex["difficulty"]
        tp += got.sensitive and ex["sensitive"]
        fp += got.sensitive and not ex["sensitive"]
        fn += ex["sensitive"] and not got.sensitive
        if got.difficulty != ex["difficulty"] or got.sensitive != ex["sensitive"]:
            errors.append(f"{ex['text'][:60]!r}: got {got.difficulty}/{got.sensitive}")
    return ClassifierReport(
        n,
        right / n if n else 0.0,
        tp / (tp + fp) if tp + fp else 1.0,
        tp / (tp + fn) if tp + fn else 1.0,
        tuple(errors),
    )
