"""What a rollout is made of: its mode and record, the per-version counters, a request's choice and count, and
the pure rules (`bucket`: which conversations a canary takes; `judge`: when a candidate is rolled back), shared by
prompt rollouts (`gateway.rollout`) and configuration rollouts (`gateway.config_versions`).

Example:
    bucket("acme", conversation_key(None, "Is BGP up?"), "r1") < 0.2  # this conversation goes to the candidate
    judge(Counters(requests=50, blocks=1), Counters(requests=30, blocks=9), margin=0.1, min_requests=20)  # "block_rate"
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import asdict, dataclass, fields

from sqlalchemy import RowMapping

from gateway.prompting import PromptSet

__all__ = ["Choice", "Counters", "Mode", "Rollout", "Served", "bucket", "conversation_key", "judge"]


class Mode(enum.StrEnum):
    CANARY = "canary"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class Rollout:
    """One rollout: its scope, the baseline and candidate versions, how it splits traffic and when it gives up."""

    id: str
    scope: str
    baseline: str
    candidate: str
    mode: Mode
    share: float
    margin: float
    min_requests: int
    state: str = "active"  # active | promoted | rolled_back
    reason: str = ""
    started_at: float = 0.0
    ended_at: float | None = None

    @classmethod
    def of(cls, row: RowMapping) -> Rollout:
        return cls(**{f.name: row[f.name] for f in fields(cls)} | {"mode": Mode(row["mode"])})


@dataclass(frozen=True, slots=True)
class Counters:
    """What one version did: requests that reached the model and how they ended."""

    requests: int = 0
    blocks: int = 0
    unsupported: int = 0
    errors: int = 0
    latency_ms: float = 0.0  # the sum over requests
    thumbs_up: int = 0
    thumbs_down: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def rate(self, count: int) -> float:
        return count / self.requests if self.requests else 0.0

    @property
    def block_rate(self) -> float:
        return self.rate(self.blocks)

    @property
    def error_rate(self) -> float:
        return self.rate(self.errors)

    def summary(self) -> dict[str, object]:
        """The counters and rates, as audit records and `netops prompts status` show them."""
        return {
            **asdict(self),
            "latency_ms": round(self.latency_ms / self.requests, 1) if self.requests else 0.0,
            "block_rate": round(self.block_rate, 4),
            "error_rate": round(self.error_rate, 4),
            "unsupported_rate": round(self.rate(self.unsupported), 4),
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """The prompts a request uses, the rollout it is part of ("" if none) and, in shadow, the candidate."""

    prompts: PromptSet
    rollout: str = ""
    shadow: PromptSet | None = None


@dataclass(frozen=True, slots=True)
class Served:
    """One counted request: which version answered (or, `shown=False`, answered in shadow) and how it ended."""

    tenant: str
    request_id: str
    version: str
    rollout: str = ""
    blocked: bool = False
    error: bool = False
    unsupported: int = 0
    latency_ms: float = 0.0
    shown: bool = True


def bucket(tenant: str, conversation: str, rollout: str) -> float:
    """A conversation's place in [0, 1) for a rollout: below the share means the candidate answers."""
    digest = hashlib.sha256(f"{tenant}\x1f{conversation}\x1f{rollout}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def conversation_key(header: str | None, first_user_text: str) -> str:
    """What keeps a conversation on one version: the client's `X-NetOps-Conversation`, else its first question."""
    if header and header.strip():
        return "h:" + header.strip()[:200]
    return "q:" + hashlib.sha256(first_user_text.encode()).hexdigest()[:32]


def judge(baseline: Counters, candidate: Counters, *, margin: float, min_requests: int) -> str:
    """The reason to roll back automatically (`block_rate`, `error_rate`), or "" to go on: the one rule for prompt
    and configuration rollouts."""
    if candidate.requests < min_requests:
        return ""
    if candidate.block_rate > baseline.block_rate + margin:
        return "block_rate"
    if candidate.error_rate > baseline.error_rate + margin:
        return "error_rate"
    return ""
