"""A parser for the Prometheus text exposition format (0.0.4), enough to read a vLLM `/metrics` page.

Reads `name{label="value",...} value [timestamp]` samples; `# HELP`/`# TYPE` comments and blank lines
are skipped. Label values may hold escaped quotes, backslashes and newlines, commas and braces.
Deliberately left out: OpenMetrics exemplars and `# EOF` semantics (an exemplar after `#` is ignored).

Example:
    samples = parse_prometheus_text('vllm:num_requests_waiting{model_name="m"} 2.0\\n')
    samples[0].name, samples[0].labels, samples[0].value   # ('vllm:num_requests_waiting', {'model_name': 'm'}, 2.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["MetricsParseError", "Sample", "parse_prometheus_text"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,)?')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class MetricsParseError(ValueError):
    """A line is not valid exposition text (line number and the reason)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: metric name, labels, value."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def parse_prometheus_text(text: str) -> list[Sample]:
    """Every sample of an exposition page, in order; raises `MetricsParseError` on a malformed line."""
    samples: list[Sample] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(_sample(line))
        except (ValueError, IndexError) as exc:
            raise MetricsParseError(f"line {number}: {exc}: {line[:80]!r}") from None
    return samples


def _sample(line: str) -> Sample:
    match = _NAME.match(line)
    if not match:
        raise ValueError("no metric name")
    name, pos = match.group(0), match.end()
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        labels, pos = _labels(line, pos + 1)
    rest = line[pos:].split("#", 1)[0].split()
    if not rest:
        raise ValueError("no value")
    return Sample(name, _value(rest[0]), labels)


def _labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    while True:
        while pos < len(line) and line[pos] == " ":
            pos += 1
        if line[pos] == "}":
            return labels, pos + 1
        match = _LABEL.match(line, pos)
        if not match:
            raise ValueError("bad label set")
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], match.group(2))
        pos = match.end()
        if not match.group(3) and line[pos] != "}":
            raise ValueError("labels not separated by commas")


def _value(token: str) -> float:
    lowered = token.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    return float(token)
