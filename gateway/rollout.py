"""Canary and shadow rollouts of a prompt version, per-version counters, and the automatic rollback.

A rollout puts a candidate version (kept in `<data_dir>/prompts`) beside the version in force for one tenant or
for all (`scope` "*"):

    canary  the candidate answers `share` of the scope's conversations; the bucket is a hash of
            (tenant, conversation, rollout id), so a conversation keeps its version for the rollout's life
    shadow  every answer is the baseline's; after it is sent, the candidate answers the same request in the
            background (`gateway.shadow`): guarded, checked for unsupported claims, counted, audited, never shown

Each chat request that reached the model is counted once, from the Turn's final outcome, per (rollout, tenant,
version): requests, guard blocks, unsupported-claim flags, errors, latency, thumbs up/down. Once the candidate
has `min_requests`, a block or error rate above the baseline's plus `margin` ends the rollout on the spot
(`prompts.rolled_back`, reason `block_rate` / `error_rate`). `promote` makes the candidate the version in force
for the scope (kept in the database: it survives restarts); `rollback` ends the rollout. Every switch is audited.

The version in force for a tenant: its settings pin, else its promoted version, else the all-tenants promoted
version, else the current prompt folder's. A rollout of scope "*" applies to the tenants whose version in force
is its baseline. State and counters live in the database, so every gateway process sees the same rollout.

Example:
    rollouts = Rollouts(engine, book, audit)
    rollouts.start("acme", "3f9c0d12ab45", mode=Mode.CANARY, share=0.2, margin=0.1, min_requests=20, actor="cli")
    choice = rollouts.choose("acme", conversation_key(header, first_question))  # Choice(prompts=..., rollout=...)
    rollouts.record(Served("acme", request_id, choice.prompts.version, choice.rollout, blocked=True))
    rollouts.promote("acme", actor="cli")
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway import rollout_store as sql
from gateway.audit import AuditLog
from gateway.db import store_unreachable
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.events import AuditEvent, PromptPromoted, PromptRolledBack, PromptRolloutStarted
from gateway.prompting import PromptBook, PromptError
from gateway.rollout_model import Choice, Counters, Mode, Rollout, Served, bucket, judge

__all__ = ["ALL", "Rollouts"]

log = logging.getLogger("netops.rollout")
ALL = "*"  # the scope of a rollout over every tenant (no tenant name can be "*")


class Rollouts:
    """Rollout state, counters and switches, in the database (see the module docstring)."""

    def __init__(self, engine: Engine, book: PromptBook, audit: AuditLog, *, refresh_s: float = 0.0) -> None:
        self.engine = engine
        self.book = book
        self.audit = audit
        self._refresh_s = refresh_s  # how stale `choose` may be about another process's switches
        self._seen: dict[str, tuple[float, str, Rollout | None]] = {}  # tenant -> (when, in force, active)
        self._deferred: list[dict[str, object]] = []  # served rows outside any rollout, written in batches
        self._deferred_lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    # -- which prompts a request uses ---------------------------------------------------------------------------

    def in_force(self, scope: str) -> str:
        """The version in force for a tenant (or, for "*", for every tenant without a pin or promotion)."""
        pinned = self.book.pinned(scope)
        if pinned:
            return pinned
        with self.engine.connect() as conn:
            promoted = sql.in_force(conn, {scope, ALL})
        return promoted.get(scope) or promoted.get(ALL) or self.book.current.version

    def choose(self, tenant: str, conversation: str) -> Choice:
        """The prompts for one request of `tenant`'s conversation. On the request path: the tenant's state is read
        from the database at most once per `refresh_s` (a switch made in this process is seen at once)."""
        version, rollout = self._state(tenant)
        prompts = self.book.version(version)
        if rollout is None or rollout.baseline != version or self.book.pinned(tenant):
            return Choice(prompts)
        if rollout.mode is Mode.SHADOW:
            return Choice(prompts, rollout.id, shadow=self.book.version(rollout.candidate))
        if bucket(tenant, conversation, rollout.id) < rollout.share:
            return Choice(self.book.version(rollout.candidate), rollout.id)
        return Choice(prompts, rollout.id)

    def choose_cached(self, tenant: str, conversation: str) -> Choice | None:
        """`choose` without touching the database, when the tenant's state is fresh enough (the event loop's
        path); None means: call `choose` in a thread."""
        seen = self._seen.get(tenant)
        if seen is None or time.monotonic() - seen[0] >= self._refresh_s:
            return None
        return self.choose(tenant, conversation)

    def _state(self, tenant: str) -> tuple[str, Rollout | None]:
        now = time.monotonic()
        seen = self._seen.get(tenant)
        if seen is None or now - seen[0] >= self._refresh_s:
            try:
                seen = (now, self.in_force(tenant), self.active(tenant))
            except SQLAlchemyError as exc:  # the store is down: the last state seen stands (none seen: 503)
                if seen is None or not store_unreachable(exc):
                    raise
                seen = (now, seen[1], seen[2])
            self._seen[tenant] = seen
        return seen[1], seen[2]

    def active(self, tenant: str) -> Rollout | None:
        """The active rollout that covers a tenant: its own, else the all-tenants one."""
        with self.engine.connect() as conn:
            rows = {row["scope"]: Rollout.of(row) for row in sql.active_rows(conn, {tenant, ALL})}
        return rows.get(tenant) or rows.get(ALL)

    # -- switches -----------------------------------------------------------------------------------------------

    def start(
        self, scope: str, candidate: str, *, mode: Mode, share: float, margin: float, min_requests: int, actor: str
    ) -> Rollout:
        """Start a rollout of a kept version (404 unknown version, 409 one already running or nothing to try)."""
        _check_numbers(share, margin, min_requests)
        try:
            self.book.version(candidate)
        except PromptError as exc:
            raise NotFound(str(exc)) from None
        if scope != ALL and self.book.pinned(scope):
            raise Conflict(f"tenant {scope!r} is pinned to a version in the settings (prompts.pins)")
        baseline = self.in_force(scope)
        if candidate == baseline:
            raise Conflict(f"version {candidate} is already the one in force for {scope!r}")
        rollout = Rollout(
            uuid.uuid4().hex[:16], scope, baseline, candidate, mode, share, margin, min_requests, started_at=time.time()
        )
        if not sql.claim(self.engine, {**asdict(rollout), "mode": mode.value}):
            raise Conflict(f"a rollout is already active for {scope!r}: promote or roll it back first")
        self._seen.clear()
        self._audit(
            PromptRolloutStarted(
                tenant=scope,
                request_id=_rid(actor),
                rollout=rollout.id,
                baseline=baseline,
                candidate=candidate,
                mode=mode.value,
                share=share,
                margin=margin,
                min_requests=min_requests,
                actor=actor,
            )
        )
        return rollout

    def promote(self, scope: str, *, actor: str) -> Rollout:
        """Make the active rollout's candidate the version in force for its scope."""
        rollout = self._end(scope, "promoted", "promoted")
        with self.engine.begin() as conn:
            sql.set_in_force(conn, scope, rollout.candidate, rollout.id)
        self._seen.clear()
        event = PromptPromoted(
            tenant=scope,
            request_id=_rid(actor),
            rollout=rollout.id,
            version=rollout.candidate,
            previous=rollout.baseline,
            actor=actor,
            counters=self._summaries(rollout),
        )
        self._audit(event)
        return rollout

    def rollback(self, scope: str, *, actor: str, reason: str = "manual", request_id: str = "") -> Rollout:
        """End the scope's active rollout; its baseline stays in force."""
        rollout = self._end(scope, "rolled_back", reason)
        event = PromptRolledBack(
            tenant=scope,
            request_id=request_id or _rid(actor),
            rollout=rollout.id,
            candidate=rollout.candidate,
            baseline=rollout.baseline,
            reason=reason,
            actor=actor,
            counters=self._summaries(rollout),
        )
        self._audit(event)
        return rollout

    def _end(self, scope: str, state: str, reason: str) -> Rollout:
        with self.engine.begin() as conn:
            rows = sql.active_rows(conn, {scope})
            if not rows:
                raise NotFound(f"no active prompt rollout for {scope!r}")
            rollout = Rollout.of(rows[0])
            if not sql.release(conn, scope, rollout.id):
                raise Conflict(f"the rollout {rollout.id} was ended meanwhile")
            ended_at = sql.ended(conn, rollout.id, state, reason)
        self._seen.clear()
        return replace(rollout, state=state, reason=reason, ended_at=ended_at)

    # -- counters -----------------------------------------------------------------------------------------------

    def defer(self, served: Served) -> None:
        """Remember which version answered a request outside any rollout (for feedback), without a database
        write on the request path: rows are written in batches by `flush` (the gateway calls it every second,
        `rate` before it looks a request up). Counters are kept only inside a rollout."""
        row = {
            "tenant": served.tenant,
            "request_id": served.request_id,
            "version": served.version,
            "rollout": "",
            "rating": 0,
            "ts": time.time(),
        }
        with self._deferred_lock:
            self._deferred.append(row)
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_every_second, name="prompt-served", daemon=True)
                self._flusher.start()

    def _flush_every_second(self) -> None:
        while True:
            time.sleep(1.0)
            try:
                self.flush()
            except SQLAlchemyError:  # the store is down: these rows only serve feedback; try again next second
                log.warning("prompt served rows not written yet (store unavailable)", exc_info=True)

    def flush(self) -> None:
        """Write the deferred served rows (one transaction)."""
        with self._deferred_lock:
            rows, self._deferred = self._deferred, []
        try:
            sql.insert_served_many(self.engine, rows)
        except SQLAlchemyError:
            with self._deferred_lock:
                self._deferred[:0] = rows[-10_000:]  # kept for the next try, bounded
            raise

    def record(self, served: Served) -> Rollout | None:
        """Count one request; returns the rollout if this count made it roll back automatically."""
        deltas = {
            "requests": 1,
            "blocks": int(served.blocked),
            "errors": int(served.error),
            "unsupported": served.unsupported,
            "latency_ms": round(served.latency_ms, 2),
        }
        if served.rollout:  # counters compare a rollout's versions; outside one they would be read by no one
            sql.bump(self.engine, served.rollout, served.tenant, served.version, deltas)
        if served.shown:
            sql.insert_served(self.engine, served.tenant, served.request_id, served.version, served.rollout)
        return self._judge(served) if served.rollout else None

    def _judge(self, served: Served) -> Rollout | None:
        rollout = self.active(served.tenant)
        if rollout is None or rollout.id != served.rollout:
            return None
        by_version = self.by_version(rollout.id)
        reason = judge(
            by_version.get(rollout.baseline, Counters()),
            by_version.get(rollout.candidate, Counters()),
            margin=rollout.margin,
            min_requests=rollout.min_requests,
        )
        if not reason:
            return None
        try:
            return self.rollback(rollout.scope, actor="auto", reason=reason, request_id=served.request_id)
        except (NotFound, Conflict):  # another request (or process) ended it first
            return None

    def counters(self, rollout: str) -> dict[tuple[str, str], Counters]:
        """(tenant, version) -> counters, for a rollout ("" is traffic outside any rollout)."""
        with self.engine.connect() as conn:
            rows = sql.counter_rows(conn, rollout)
        return {(r["tenant"], r["version"]): Counters(*(r[n] for n in sql.COUNTER_FIELDS)) for r in rows}

    def by_version(self, rollout: str) -> dict[str, Counters]:
        """Counters summed over tenants, by version."""
        totals: dict[str, Counters] = {}
        for (_, version), counters in self.counters(rollout).items():
            totals[version] = totals.get(version, Counters()) + counters
        return totals

    def rollouts(self, scope: str | None = None) -> list[Rollout]:
        """Rollouts, newest first (of one scope, or all)."""
        with self.engine.connect() as conn:
            return [Rollout.of(row) for row in sql.rollout_rows(conn, scope=scope)]

    def rate(self, tenant: str, request_id: str, *, up: bool) -> str:
        """Book a thumbs up/down on an answer of `tenant` (404 if the tenant has no such answer); returns the
        version that answered. Voting again replaces the earlier vote."""
        new = 1 if up else -1
        self.flush()
        with self.engine.connect() as conn:
            row = sql.served_row(conn, tenant, request_id)
        if row is None:
            raise NotFound(f"no answer with request id {request_id!r} for this tenant")
        old = int(row["rating"])
        if old != new:
            with self.engine.begin() as conn:
                changed = sql.set_rating(conn, tenant, request_id, old, new)
            if changed:
                deltas = {"thumbs_up": (new == 1) - (old == 1), "thumbs_down": (new == -1) - (old == -1)}
                sql.bump(self.engine, row["rollout"], tenant, row["version"], deltas)
        return str(row["version"])

    def _summaries(self, rollout: Rollout) -> dict[str, dict[str, object]]:
        return {version: c.summary() for version, c in self.by_version(rollout.id).items()}

    def _audit(self, event: AuditEvent) -> None:
        self.audit.append(event)


def _check_numbers(share: float, margin: float, min_requests: int) -> None:
    errors: list[dict[str, Any]] = []
    if not 0.0 <= share <= 1.0:
        errors.append({"field": "share", "message": "must be between 0 and 1"})
    if not 0.0 <= margin <= 1.0:
        errors.append({"field": "margin", "message": "must be between 0 and 1"})
    if min_requests < 1:
        errors.append({"field": "min_requests", "message": "must be at least 1"})
    if errors:
        raise InvalidRequest(f"invalid {errors[0]['field']}: {errors[0]['message']}", errors=errors)


def _rid(actor: str) -> str:
    return f"{actor}-{uuid.uuid4().hex[:12]}"
