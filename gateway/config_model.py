"""What a configuration version and a configuration rollout are, as values: their kinds, summaries, diffs and
rows (`gateway.config_versions` stores and switches them).

Example:
    text, digest = canonical({"routes": [...]})  # the stored body and its content hash
    print(diff(old, new))  # a unified diff of two versions' bodies
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.rollout_model import bucket

__all__ = ["ConfigRollout", "Kind", "Version", "canonical", "diff", "no_rollout", "rollout_of", "version_of"]


class Kind(enum.StrEnum):
    ROUTES = "routes"
    POLICY = "policy"


@dataclass(frozen=True, slots=True)
class Version:
    """One configuration version."""

    id: int
    kind: Kind
    subject: str
    digest: str
    body: dict[str, Any]
    author: str
    reason: str
    created_at: float
    parent: int | None

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "subject": self.subject,
            "digest": self.digest[:12],
            "author": self.author,
            "reason": self.reason,
            "created_at": self.created_at,
            "parent": self.parent,
        }

    def text(self) -> list[str]:
        """The body as stable, diffable lines."""
        return json.dumps(self.body, indent=2, sort_keys=True).splitlines()


def canonical(body: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def no_rollout(kind: Kind, subject: str) -> str:
    return f"no rollout of {kind.value}{' ' + subject if subject else ''} is running"


@dataclass(frozen=True, slots=True)
class ConfigRollout:
    """A candidate version beside the one in force: which conversations it serves, and when it gives up."""

    id: str
    kind: Kind
    subject: str
    baseline: int
    candidate: int
    share: float
    tenants: tuple[str, ...] = ()
    margin: float = 0.1
    min_requests: int = 20

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "subject": self.subject,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "share": self.share,
            "tenants": list(self.tenants),
            "margin": self.margin,
            "min_requests": self.min_requests,
        }

    def serves(self, tenant: str, conversation: str) -> bool:
        """Whether the candidate serves this conversation (sticky for the rollout's life)."""
        if self.tenants and tenant not in self.tenants:
            return False
        return bucket(tenant, conversation, self.id) < self.share


def rollout_of(row: Any) -> ConfigRollout:
    return ConfigRollout(
        str(row["id"]),
        Kind(row["kind"]),
        str(row["subject"]),
        int(row["baseline"]),
        int(row["candidate"]),
        float(row["share"]),
        tuple(json.loads(row["tenants"])),
        float(row["margin"]),
        int(row["min_requests"]),
    )


def version_of(row: Any) -> Version:
    return Version(
        int(row["id"]),
        Kind(row["kind"]),
        str(row["subject"]),
        str(row["digest"]),
        json.loads(row["body"]),
        str(row["author"]),
        str(row["reason"]),
        float(row["created_at"]),
        None if row["parent"] is None else int(row["parent"]),
    )


def diff(old: Version, new: Version) -> str:
    """A unified diff of two versions' bodies."""
    lines = difflib.unified_diff(old.text(), new.text(), f"version {old.id}", f"version {new.id}", lineterm="")
    return "\n".join(lines)
