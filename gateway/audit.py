"""The append-only, hash-chained audit log, in SQLite by default or PostgreSQL.

Each record's hash covers its content and the previous record's hash, so an edited, deleted or
reordered record breaks the chain from that point; `verify` reports the first break.
Events are typed (frozen dataclasses); payloads hold verdicts, digests and redacted text only, never secrets.

Example:
    log = AuditLog(engine)
    log.append(ChatCompleted(tenant="acme", request_id="r1", route="netops-assistant", ...))
    log.verify()  # VerifyReport(ok=True, checked=1, ...)
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import AUDIT

__all__ = [
    "ActionDecided",
    "ActionExecuted",
    "AuditEvent",
    "AuditLog",
    "ChatCompleted",
    "RequestRejected",
    "ToolDenied",
    "ToolInvoked",
    "VerifyReport",
]

GENESIS = "0" * 64


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """Base of every audit event: who (tenant) and which request."""

    kind: ClassVar[str] = "event"
    tenant: str
    request_id: str

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("tenant")
        data.pop("request_id")
        return data


@dataclass(frozen=True, kw_only=True)
class ChatCompleted(AuditEvent):
    """A chat request that reached the model and was answered."""

    kind: ClassVar[str] = "chat.completed"
    key_id: str
    route: str
    deployment: str
    prompt_digest: str
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    policy: str
    cost_usd: float = 0.0
    routing: dict[str, object] = field(default_factory=dict)
    verdicts: list[dict[str, object]] = field(default_factory=list)
    citations: list[dict[str, object]] = field(default_factory=list)
    tools: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RequestRejected(AuditEvent):
    """A request refused by a guardrail, a limit, or a failed backend."""

    kind: ClassVar[str] = "request.rejected"
    key_id: str
    route: str
    code: str
    detail: str
    verdicts: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ToolInvoked(AuditEvent):
    """A tool ran (or, for a `change` tool, proposed a pending action): validated arguments and output digest only."""

    kind: ClassVar[str] = "tool.invoked"
    key_id: str
    tool: str
    risk: str
    arguments: dict[str, object]
    duration_ms: float
    output_digest: str
    verdicts: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ToolDenied(AuditEvent):
    """A tool call refused (not granted, invalid arguments, not allow-listed) or failed."""

    kind: ClassVar[str] = "tool.denied"
    key_id: str
    tool: str
    code: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class ActionDecided(AuditEvent):
    """A human approved or denied a pending change action, or tried to and was refused."""

    kind: ClassVar[str] = "action.decided"
    key_id: str
    action_id: str
    decision: str  # approve | deny
    outcome: str  # the action's status afterwards, or the refusal code
    tool: str = ""
    device: str = ""
    approvals: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ActionExecuted(AuditEvent):
    """An approved change action ran on its device: result digest and rollback hint."""

    kind: ClassVar[str] = "action.executed"
    key_id: str
    action_id: str
    tool: str
    device: str
    arguments: dict[str, object]
    status: str  # executed | failed
    result_digest: str
    rollback: str
    approvals: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of recomputing the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


class AuditLog:
    """Appends events to the chain and verifies it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> int:
        """Write one record; returns its sequence number. Safe across threads and processes."""
        with self._lock:
            for _ in range(20):
                try:
                    return self._append_once(event)
                except IntegrityError:  # another process took the same seq: re-read the tip
                    continue
        raise RuntimeError("audit log: could not append after 20 attempts")

    def _append_once(self, event: AuditEvent) -> int:
        with self._engine.begin() as conn:
            tip = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
            seq, prev = (tip[0] + 1, tip[1]) if tip else (1, GENESIS)
            row = {
                "seq": seq,
                "ts": time.time(),
                "tenant": event.tenant,
                "request_id": event.request_id,
                "kind": event.kind,
                "payload": _canonical(event.payload()),
            }
            conn.execute(insert(AUDIT).values(**row, prev_hash=prev, hash=_hash(prev, row)))
        return seq

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())

    def records(self, *, tenant: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(limit)
        if tenant:
            query = query.where(AUDIT.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [{**r, "payload": json.loads(r["payload"])} for r in conn.execute(query).mappings()]

    def verify(self) -> VerifyReport:
        """Recompute every hash in order; report the first record that does not match."""
        prev, expected_seq, checked = GENESIS, 1, 0
        with self._engine.connect() as conn:
            for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings():
                row = {k: r[k] for k in ("seq", "ts", "tenant", "request_id", "kind", "payload")}
                if r["seq"] != expected_seq:
                    return VerifyReport(False, checked, r["seq"], f"record(s) missing before seq {r['seq']}")
                if r["prev_hash"] != prev:
                    return VerifyReport(False, checked, r["seq"], "previous-hash link broken (deleted or reordered)")
                if _hash(prev, row) != r["hash"]:
                    return VerifyReport(False, checked, r["seq"], "content does not match its hash (edited)")
                prev, expected_seq, checked = r["hash"], expected_seq + 1, checked + 1
        return VerifyReport(True, checked)


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _hash(prev: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev + _canonical(row)).encode()).hexdigest()
