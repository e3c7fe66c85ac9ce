"""Network secrets redaction: device-config credentials replaced by stable placeholders.

Each rule is a regular expression with one named group `secret`; only that group is replaced,
so the config stays readable: `snmp-server community s3cr3t RO` -> `snmp-server community <SECRET:snmp-community:1> RO`.
Placeholders are stable per request (see `Vault`), so an answer can refer to them.

Left out here: entropy-based detection of unlabelled tokens (too many false hits on interface names and hashes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from guardrails.scanner import ScanContext, Scanner, Stage, register
from guardrails.verdict import Span, Verdict

__all__ = ["RULES", "SecretRule", "SecretsScanner"]

_V = r"(?P<secret>\S+)"  # a secret value: one non-blank token


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One kind of secret and the pattern that finds its value."""

    kind: str
    pattern: re.Pattern[str]


def _rule(kind: str, pattern: str) -> SecretRule:
    return SecretRule(kind, re.compile(pattern, re.IGNORECASE | re.MULTILINE))


RULES: tuple[SecretRule, ...] = (
    _rule(
        "private-key",
        r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----)",
    ),
    _rule("snmp-community", rf"\bsnmp-server\s+community\s+{_V}"),
    _rule("snmp-community", rf"\bcommunity\s+(?:name\s+)?\"?{_V}(?=\"?\s+(?:RO|RW|ro|rw|authorization|view)\b)"),
    _rule("snmp-v3-key", rf"\b(?:auth|priv)\s+(?:md5|sha\d*|des|3des|aes(?:\s*\d+)?)\s+{_V}"),
    _rule("enable-secret", rf"\benable\s+(?:secret|password)\s+(?:(?:level\s+\d+\s+)?\d\s+)?{_V}"),
    _rule("password", rf"\b(?:username|user)\s+\S+\s+(?:.*?\s)?(?:secret|password)\s+(?:\d\s+)?{_V}"),
    _rule("password", rf"^\s*(?:password|secret)\s+(?:\d\s+)?{_V}"),
    _rule("key-string", rf"\bkey-string\s+(?:\d\s+)?{_V}"),
    _rule(
        "tacacs-radius-key",
        rf"\b(?:tacacs-server|radius-server|server-private|tacacs|radius)\b.*?\bkey\s+(?:\d\s+)?{_V}",
    ),
    _rule("bgp-password", rf"\bneighbor\s+\S+\s+password\s+(?:\d\s+)?{_V}"),
    _rule(
        "ospf-key",
        rf"\b(?:ip\s+)?ospf\s+(?:message-digest-key\s+\d+\s+md5|authentication-key)\s+(?:\d\s+)?{_V}",
    ),
    _rule("isakmp-psk", rf"\b(?:crypto\s+isakmp\s+key|pre-shared-key\s+(?:local|remote)?)\s*(?:\d\s+)?{_V}"),
    _rule("juniper-secret", r"(?P<secret>\$9\$[^\s\";]+)"),
    _rule("crypt-hash", r"(?P<secret>\$(?:1|5|6|8|9|14)\$[^\s\";]+)"),
    _rule("wireguard-key", r"\b(?:PrivateKey|PresharedKey)\s*=\s*(?P<secret>[A-Za-z0-9+/]{42,43}=)"),
    _rule("api-token", r"(?P<secret>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)"),
    _rule("api-token", r"\b(?:token|api[_-]?key)\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9_\-]{20,})"),
)


class SecretsScanner:
    """Replaces every secret value matched by `RULES` with a placeholder."""

    name = "secrets"
    stages = frozenset({Stage.INPUT, Stage.CONTEXT, Stage.OUTPUT})

    def __init__(self, rules: tuple[SecretRule, ...] = RULES) -> None:
        self._rules = rules

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
        found: list[tuple[Span, str]] = []
        for rule in self._rules:
            for match in rule.pattern.finditer(text):
                value = match.group("secret").strip("\"'")
                if value.startswith("<SECRET:") or not value:
                    continue
                start = match.start("secret") + match.group("secret").index(value)
                found.append((Span(start, start + len(value), rule.kind), value))
        return _non_overlapping(found)


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
    return SecretsScanner()
