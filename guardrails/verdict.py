"""The named result every scanner returns.

Example:
    Verdict.redact("secrets", text="snmp-server community <SECRET:snmp-community:1> RO",
                   evidence=(Span(21, 31, "snmp-community"),), reason="1 secret")
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Action", "Span", "Verdict"]


class Action(enum.StrEnum):
    """What a scanner decided."""

    ALLOW = "allow"
    FLAG = "flag"  # allowed unchanged, but reported (e.g. a dangerous command needing confirmation)
    REDACT = "redact"
    BLOCK = "block"
    FAILED_OPEN = "failed_open"  # the scanner failed or timed out and its policy lets the text pass unchanged


@dataclass(frozen=True, slots=True)
class Span:
    """Where, in the scanned text, the evidence lies; `label` names what was found, never its value."""

    start: int
    end: int
    label: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span {self.start}..{self.end}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A scanner's decision on one text. Build it with `allow`, `redact` or `block`."""

    action: Action
    scanner: str
    text: str
    reason: str = ""
    evidence: tuple[Span, ...] = field(default_factory=tuple)
    score: float | None = None

    def __post_init__(self) -> None:
        if self.action in (Action.REDACT, Action.FLAG) and not self.evidence:
            raise ValueError(f"a {self.action.value} verdict needs evidence")
        if self.action in (Action.BLOCK, Action.FAILED_OPEN) and not self.reason:
            raise ValueError(f"a {self.action.value} verdict needs a reason")

    @classmethod
    def allow(cls, scanner: str, text: str, *, score: float | None = None) -> Verdict:
        return cls(Action.ALLOW, scanner, text, score=score)

    @classmethod
    def redact(cls, scanner: str, *, text: str, evidence: tuple[Span, ...], reason: str) -> Verdict:
        return cls(Action.REDACT, scanner, text, reason, evidence)

    @classmethod
    def flag(cls, scanner: str, *, text: str, evidence: tuple[Span, ...], reason: str) -> Verdict:
        return cls(Action.FLAG, scanner, text, reason, evidence)

    @classmethod
    def failed_open(cls, scanner: str, text: str, *, reason: str) -> Verdict:
        """A failed scanner that policy lists as fail-open: the text passes, the failure is on the record."""
        return cls(Action.FAILED_OPEN, scanner, text, reason)

    @classmethod
    def block(
        cls,
        scanner: str,
        *,
        text: str,
        reason: str,
        evidence: tuple[Span, ...] = (),
        score: float | None = None,
    ) -> Verdict:
        return cls(Action.BLOCK, scanner, text, reason, evidence, score)

    def summary(self) -> dict[str, object]:
        """What the audit log keeps: the decision and labels, never the scanned text or values."""
        return {
            "scanner": self.scanner,
            "action": self.action.value,
            "reason": self.reason,
            "labels": sorted({span.label for span in self.evidence}),
            "score": self.score,
        }
