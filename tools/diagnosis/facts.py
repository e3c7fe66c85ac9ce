"""The finding type (one fact read from a tool's output) and the parsed `Output` the parsers read it from."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.registry import ToolResult

__all__ = ["Finding", "Output", "Severity", "addresses_in"]


class Severity(enum.StrEnum):
    """A problem to act on, a healthy fact, or context."""

    PROBLEM = "problem"
    OK = "ok"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact: where (`device`), about what (`subject`), what holds (`fact`), from which tool, and the output
    line (`evidence`) that shows it, stripped: always a substring of that tool's output."""

    severity: Severity
    device: str
    subject: str
    fact: str
    tool: str
    evidence: str
    checked_on: str = ""  # the device the tool ran on, when it differs from `device` (a DNS server's node)

    @property
    def headline(self) -> str:
        """e.g. "r1: BGP neighbor 10.0.13.2 (r3) Idle (Admin): administratively shut down"."""
        where = f"{self.device}: " if self.device else ""
        return f"{where}{self.subject} {self.fact}".strip()


_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\d)")


@dataclass(frozen=True, slots=True)
class Output:
    """One tool's output as the parsers read it: the tool, the device it ran on, its arguments and its lines."""

    tool: str
    device: str
    arguments: Mapping[str, Any]
    text: str

    @classmethod
    def of(cls, result: ToolResult) -> Output:
        return cls(result.tool, str(result.arguments.get("device", "")), result.arguments, result.output)

    @property
    def lines(self) -> list[str]:
        """The non-empty lines, stripped (each is a substring of the output, so it can be evidence)."""
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    def arg(self, name: str) -> str:
        value = self.arguments.get(name)
        return "" if value is None else str(value)

    def finding(self, severity: Severity, subject: str, fact: str, evidence: str, device: str | None = None) -> Finding:
        """A finding from this output; `evidence` must be one of its lines."""
        assert evidence in self.text, "evidence must come from the output"
        where = self.device if device is None else device
        return Finding(severity, where, subject, fact, self.tool, evidence, "" if where == self.device else self.device)


def addresses_in(text: str) -> list[str]:
    """The IPv4 addresses in a text, in order."""
    return _IPV4.findall(text)
