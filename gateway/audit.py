"""The append-only, hash-chained audit log, in SQLite by default or PostgreSQL.

Each record's hash covers its content and the previous record's hash, so an edited, deleted or
reordered record breaks the chain from that point; `verify` reports the first break.
Events are typed (`gateway.events`); payloads hold verdicts, digests and redacted text only, never secrets.

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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import AUDIT
from gateway.events import AuditEvent

__all__ = ["AuditEvent", "AuditLog", "VerifyReport"]

GENESIS = "0" * 64


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
