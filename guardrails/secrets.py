"""Network secrets redaction: device-config credentials replaced by stable placeholders.

Each rule is a regular expression with one named group `secret`; only that group is replaced,
so the config stays readable: `snmp-server community s3cr3t RO` -> `snmp-server community <SECRET:snmp-community:1> RO`.
Placeholders are stable per request (see `Vault`), so an answer can refer to them.

The rules live in `guardrails.secret_rules` (our own, then the netconan/RANCID table ported in
`guardrails.vendor_rules`); values that are documentation syntax (`<string>`, `[0-7]`, `{ip | name}`),
punctuation, prose words or already placeholders are left alone. Measured on our own lines and on an
independent vendor-config set by `netops bench guardrails` (see `docs/guardrails.md`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.secret_rules import RULES, SecretRule
from guardrails.verdict import Span, Verdict

__all__ = ["RULES", "SecretRule", "SecretsScanner"]

_SYNTAX = re.compile(  # documentation syntax, masks, punctuation, a bare type digit: not values
    r"^(?:<(?!SECRET:)[^>]*>|\[.*|\{.*|\||\$\{.*\}|\*+|x{3,}|\.{3,}|[^\w$]+|\d{1,2}|null|none|true|false)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"<SECRET:[a-z0-9-]+:\d+>")
_PROSE_WORDS = (  # words that follow "password" / "community" in prose, never values
    "a an the on of to in is are was were be been for from with and or but not must should will can mismatch "
    "mismatched missing expired changed rotated reset required configured set used here there when while if "
    "that this these those it its by at as into after before again then than only also you your we our they "
    "their all any each has have had does do may might could would about via per prompt prompted field "
    "change update expires manager vault policy history complexity"
)
_PROSE = frozenset(_PROSE_WORDS.split())
_VERB = re.compile(r"[ \t]+(?:is|are|was|were|must|should|will|can|has|have|does|do|not|may|might)\b", re.IGNORECASE)


class SecretsScanner:
    """Replaces every secret value matched by `RULES` with a placeholder."""

    name = "secrets"
    bounded = True
    stages = frozenset({Stage.INPUT, Stage.CONTEXT, Stage.OUTPUT})

    def __init__(self, rules: tuple[SecretRule, ...] = RULES) -> None:
        self._rules = rules
        # most texts hold none of the rules' words: one search for any of them, then only the rules that need none
        words = sorted({word for r in rules for word in r.needs}, key=len, reverse=True)
        self._any_word = re.compile("|".join(map(re.escape, words))) if words else None
        self._unconditional = tuple(r for r in rules if not r.needs)

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        spans = self._find(text)
        if not spans:
            return Verdict.allow(self.name, text)
        out: list[str] = []
        cursor = 0
        for span, value in spans:
            out.append(text[cursor : span.start])
            out.append(ctx.vault.placeholder(span.label, value))
            cursor = span.end
        out.append(text[cursor:])
        evidence = tuple(span for span, _ in spans)
        return Verdict.redact(self.name, text="".join(out), evidence=evidence, reason=f"{len(spans)} secret(s)")

    def _find(self, text: str) -> list[tuple[Span, str]]:
        found: list[tuple[Span, str]] = [
            (Span(m.start(), m.end(), "placeholder"), "") for m in _PLACEHOLDER.finditer(text)
        ]  # placeholders written earlier claim their span first, so no rule matches inside one
        lowered = text.lower()
        worded = self._any_word is None or self._any_word.search(lowered) is not None
        for rule in self._rules if worded else self._unconditional:
            if not rule.may_match(lowered):  # a cheap word test spares most patterns on most texts
                continue
            for match in rule.pattern.finditer(text):
                value = match.group("secret").strip("\"'")
                if not value or value.startswith("<SECRET:") or _SYNTAX.match(value) or value.lower() in _PROSE:
                    continue
                if _VERB.match(text, match.end("secret")):  # "secret sharing is disabled": prose, not a value
                    continue
                start = match.start("secret") + match.group("secret").index(value)
                found.append((Span(start, start + len(value), rule.kind), value))
        return [(span, value) for span, value in _non_overlapping(found) if value]


def _non_overlapping(found: list[tuple[Span, str]]) -> list[tuple[Span, str]]:
    """Keep the earliest, then longest, of overlapping matches."""
    found.sort(key=lambda item: (item[0].start, -(item[0].end - item[0].start)))
    kept: list[tuple[Span, str]] = []
    for span, value in found:
        if kept and span.start < kept[-1][0].end:
            continue
        kept.append((span, value))
    return kept


@register("secrets")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("secrets", options, set())
    return SecretsScanner()
