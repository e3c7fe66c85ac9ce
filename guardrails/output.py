"""Output guards: system-prompt leaks (canary) and dangerous commands that need explicit confirmation.

`CANARY` is planted in the system prompt (`gateway.prompting`). It has no reason to appear in an answer,
so if it does, the model is echoing its instructions: the answer is blocked. Distinctive sentences of the
system prompt count the same way (`markers`).

`DangerousCommandScanner` never changes the answer: it flags commands that reload, erase or cut off a
device (`reload`, `write erase`, `clear ip bgp *`, `no router bgp`, `shutdown` on an uplink, ...). The
gateway reports them in the response's `netops.confirmation_required`, so a client must ask the engineer
to confirm before anything is run.

Example:
    DangerousCommandScanner().scan("then run: reload in 5", ctx).action  # Action.FLAG
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from guardrails.errors import Blocked
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Span, Verdict

__all__ = ["CANARY", "DANGEROUS", "CanaryScanner", "DangerousCommandScanner"]

CANARY = "nocanary-7f3a9c2e51"

_DELETE = r"^\s*(?:delete\s*$|load\s+override\b|delete\s+(?:/force\s+)?(?:flash|nvram|bootflash):)"
_REBOOT = r"\b(?:request system (?:reboot|halt|power-off|zeroize)|system reboot|execute reboot)\b"
DANGEROUS: dict[str, re.Pattern[str]] = {
    "reload": re.compile(r"^\s*(?:\S+[#>]\s*)?reload\b(?!-)", re.I | re.M),
    "reboot": re.compile(_REBOOT, re.I),
    "clear-bgp-all": re.compile(r"\bclear\s+(?:ip\s+)?bgp\s+(?:\S+\s+)?(?:\S+\s+)?\*", re.I),
    "write-erase": re.compile(r"\b(?:write\s+erase|erase\s+(?:startup-config|nvram:?|/all))\b", re.I),
    "format": re.compile(r"\bformat\s+(?:flash|bootflash|disk\d?|nvram)\S*", re.I),
    "no-routing-process": re.compile(r"^\s*no\s+router\s+(?:bgp|ospf|ospfv3|isis|eigrp|rip)\b", re.I | re.M),
    "no-ip-routing": re.compile(r"^\s*no\s+ip\s+routing\b", re.I | re.M),
    "delete-config": re.compile(_DELETE, re.I | re.M),
    "key-zeroize": re.compile(r"\bcrypto\s+key\s+zeroize\b", re.I),
    "interface-shutdown": re.compile(
        r"^\s*interface\s+[^\n]*\n(?:[^\n]*\n){0,6}?\s*shutdown\b"
        r"|^\s*(?:set|deactivate)\s+interfaces\s+\S+\s+disable\b",
        re.I | re.M,
    ),
}  # fmt: skip


class CanaryScanner:
    """Blocks an answer that contains the system prompt's canary or one of its distinctive sentences."""

    name = "canary"
    bounded = True
    stages = frozenset({Stage.OUTPUT})

    def __init__(self, markers: Iterable[str] = ()) -> None:
        self.markers = tuple(m.lower() for m in (CANARY, *markers) if m)

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        lowered = text.lower()
        if any(marker in lowered for marker in self.markers):
            raise Blocked("the answer repeats the system prompt (canary leak)", scanner=self.name)
        return Verdict.allow(self.name, text)


class DangerousCommandScanner:
    """Flags disruptive commands in an answer; the text passes unchanged."""

    name = "dangerous_commands"
    bounded = True
    stages = frozenset({Stage.INPUT, Stage.OUTPUT})  # in a question too: "should I run clear ip bgp *?"

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        spans = [
            Span(m.start(), m.end(), label) for label, pattern in DANGEROUS.items() for m in pattern.finditer(text)
        ]
        if not spans:
            return Verdict.allow(self.name, text)
        labels = ", ".join(sorted({s.label for s in spans}))
        return Verdict.flag(
            self.name, text=text, evidence=tuple(spans), reason=f"needs explicit confirmation before running: {labels}"
        )


@register("canary")
def _make_canary(options: Mapping[str, object]) -> Scanner:
    check_options("canary", options, {"markers"})
    markers = options.get("markers", [])
    if not isinstance(markers, list):
        raise ValueError("markers must be a list of strings")
    return CanaryScanner(str(m) for m in markers)


@register("dangerous_commands")
def _make_dangerous(options: Mapping[str, object]) -> Scanner:
    check_options("dangerous_commands", options, set())
    return DangerousCommandScanner()
