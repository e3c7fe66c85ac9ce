"""What a drill run is judged by: the profile (how hard to push) and a drill's result.

Example:
    DrillResult("stale_index", expected, observed, True, {"stale": {...}}).verdict   # "pass"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROFILES", "DrillResult", "Profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How hard the drills push: requests per phase."""

    name: str
    requests: int


PROFILES = {"short": Profile("short", 12), "full": Profile("full", 200)}


@dataclass(frozen=True, slots=True)
class DrillResult:
    name: str
    expected: str
    observed: str
    passed: bool | None  # None: not covered
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "not covered"}[self.passed]
