"""Routes (with their deployments) and guardrail policies as versioned configuration: the versions, what is in
force, and gradual rollouts, in the state store.

    versions = ConfigVersions(engine, audit)
    versions.record(Kind.ROUTES, "", body, author="ana", reason="add gpu-b")   # a new version, now in force
    versions.rollback(Kind.ROUTES, "", author="ana", reason="gpu-b flaps")     # the one before, as a new version
    versions.start_rollout(Kind.POLICY, "acme", body, author="ana", reason="...", share=0.2)

A version is a row of `config_versions` (append-only: id, kind, subject, digest, canonical JSON body, author,
reason, time, parent); `config_active` names the version in force per (kind, subject) and every change is
audited (`config.changed`). The settings file stays the start: the first change records what it had in force as
version 1 (author `settings`), and a version in the database wins over the file from then on. A rollout
(`config_rollouts`) serves a candidate to a share of conversations (or some tenants) beside the version in force,
counted per arm (`config_counters`) and ended automatically by the prompt canaries' rule
(`gateway.rollout_model.judge`). The values (versions, rollouts, diffs): `gateway.config_model`.

What a body may hold and how it is judged before it is recorded: `gateway.config_checks`. How every gateway
process picks versions, rollouts and kill switches up at runtime: `gateway.config_live`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.audit import AuditLog
from gateway.config_model import (
    ConfigRollout,
    Kind,
    Version,
    canonical,
    no_rollout,
    rollout_of,
    version_of,
)
from gateway.db import CONFIG_ACTIVE, CONFIG_COUNTERS, CONFIG_ROLLOUTS, CONFIG_VERSIONS
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.events import ANONYMOUS, ConfigChanged
from gateway.rollout_model import Counters, judge

__all__ = ["ConfigVersions"]


class ConfigVersions:
    """The versions in the state store (see the module docstring)."""

    def __init__(self, engine: Engine, audit: AuditLog) -> None:
        self.engine = engine
        self._audit = audit
        self._lock = threading.Lock()

    def history(self, kind: Kind, subject: str, *, limit: int = 50) -> list[Version]:
        query = (
            select(CONFIG_VERSIONS)
            .where(CONFIG_VERSIONS.c.kind == kind.value, CONFIG_VERSIONS.c.subject == subject)
            .order_by(CONFIG_VERSIONS.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [version_of(r) for r in conn.execute(query).mappings()]

    def get(self, version_id: int) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(select(CONFIG_VERSIONS).where(CONFIG_VERSIONS.c.id == version_id)).mappings().first()
        if row is None:
            raise NotFound(f"no configuration version {version_id}")
        return version_of(row)

    def active(self, kind: Kind, subject: str) -> Version | None:
        ids = self.active_ids()
        version_id = ids.get((kind.value, subject))
        return self.get(version_id) if version_id is not None else None

    def active_ids(self) -> dict[tuple[str, str], int]:
        """The version in force per (kind, subject): what each gateway process polls."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(CONFIG_ACTIVE.c.kind, CONFIG_ACTIVE.c.subject, CONFIG_ACTIVE.c.version))
            return {(k, s): int(v) for k, s, v in rows}

    def baseline(self, kind: Kind, subject: str, body: dict[str, Any]) -> None:
        """Record the settings' configuration as the first version, once (a no-op when any version exists)."""
        if self.history(kind, subject, limit=1):
            return
        with contextlib.suppress(Conflict):  # another process recorded it first
            self.record(kind, subject, body, author="settings", reason="the configuration at first start")

    def record(
        self,
        kind: Kind,
        subject: str,
        body: dict[str, Any],
        *,
        author: str,
        reason: str,
        change: str = "apply",
        parent: int | Callable[[Version | None], int | None] | None = None,
        activate: bool = True,
    ) -> Version:
        """A new version, in force from now on (validate it first), or with `activate=False` only recorded (a
        rollout's candidate). The same body as the one in force is refused."""
        text, digest = canonical(body)
        with self._lock, self.engine.begin() as conn:
            current = conn.execute(
                select(CONFIG_ACTIVE.c.version)
                .where(CONFIG_ACTIVE.c.kind == kind.value, CONFIG_ACTIVE.c.subject == subject)
                .with_for_update()  # PostgreSQL: two operators applying at once queue here
            ).scalar()
            active = None
            if current is not None:
                row = conn.execute(select(CONFIG_VERSIONS).where(CONFIG_VERSIONS.c.id == current)).mappings().one()
                active = version_of(row)
                if active.digest == digest:
                    raise Conflict(f"no change: version {active.id} in force has the same content")
            if callable(parent):
                parent = parent(active)
            elif parent is None and active is not None:
                parent = active.id
            now = time.time()
            inserted = conn.execute(
                insert(CONFIG_VERSIONS).values(
                    kind=kind.value,
                    subject=subject,
                    digest=digest,
                    body=text,
                    author=author[:128],
                    reason=reason,
                    created_at=now,
                    parent=parent,
                )
            ).inserted_primary_key
            assert inserted is not None
            new_id = int(inserted[0])
            if not activate:
                pass
            elif current is None:
                conn.execute(
                    insert(CONFIG_ACTIVE).values(kind=kind.value, subject=subject, version=new_id, updated_at=now)
                )
            else:
                conn.execute(
                    update(CONFIG_ACTIVE)
                    .where(CONFIG_ACTIVE.c.kind == kind.value, CONFIG_ACTIVE.c.subject == subject)
                    .values(version=new_id, updated_at=now)
                )
        version = Version(int(new_id), kind, subject, digest, body, author, reason, now, parent)
        if not activate:
            return version
        self._announce(
            kind,
            subject,
            f"config-{new_id}",
            version.id,
            active.id if active else None,
            digest,
            author=author,
            reason=reason,
            change=change,
        )
        return version

    def rollback(self, kind: Kind, subject: str, *, author: str, reason: str) -> Version:
        """Put the version that was in force before the current one back in force (as a new version whose parent
        is that one's parent: rolling back again goes further back). During a rollout, ends the rollout instead."""
        if self.rollout(kind, subject) is not None:
            self.end_rollout(kind, subject, author=author, reason=reason)
            active = self.active(kind, subject)
            assert active is not None
            return active
        active = self.active(kind, subject)
        if active is None or active.parent is None:
            raise Conflict(f"nothing to roll back to for {kind.value} {subject or ''}".rstrip())
        previous = self.get(active.parent)
        return self.record(
            kind,
            subject,
            previous.body,
            author=author,
            reason=f"rollback to version {previous.id}: {reason}",
            change="rollback",
            parent=lambda _: previous.parent,
        )

    # -- gradual rollouts ---------------------------------------------------------------------------------

    def start_rollout(
        self,
        kind: Kind,
        subject: str,
        body: dict[str, Any],
        *,
        author: str,
        reason: str,
        share: float,
        tenants: tuple[str, ...] = (),
        margin: float = 0.1,
        min_requests: int = 20,
    ) -> ConfigRollout:
        """Record `body` as a candidate serving `share` of the conversations (of `tenants` only, if given) beside
        the version in force, until promoted, rolled back, or judged worse (`gateway.rollout.judge`)."""
        if not 0.0 < share <= 1.0:
            raise InvalidRequest("a rollout's share is in (0, 1]")
        baseline = self.active(kind, subject)
        if baseline is None:
            raise Conflict("nothing in force to roll out beside: apply a first version")
        if self.rollout(kind, subject) is not None:
            raise Conflict(f"a rollout of {kind.value} {subject} is already running: promote or roll it back first")
        candidate = self.record(kind, subject, body, author=author, reason=reason, activate=False)
        rollout = ConfigRollout(
            uuid.uuid4().hex, kind, subject, baseline.id, candidate.id, share, tuple(tenants), margin, min_requests
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(CONFIG_ROLLOUTS).values(
                    id=rollout.id,
                    kind=kind.value,
                    subject=subject,
                    baseline=baseline.id,
                    candidate=candidate.id,
                    share=share,
                    tenants=json.dumps(list(tenants)),
                    margin=margin,
                    min_requests=min_requests,
                    state="active",
                    reason=reason,
                    started_at=time.time(),
                )
            )
        self._changed(rollout, candidate.id, baseline.id, author, reason, "rollout")
        return rollout

    def rollout(self, kind: Kind, subject: str) -> ConfigRollout | None:
        found = [r for r in self.rollouts() if r.kind is kind and r.subject == subject]
        return found[0] if found else None

    def rollouts(self) -> list[ConfigRollout]:
        """The active rollouts."""
        query = select(CONFIG_ROLLOUTS).where(CONFIG_ROLLOUTS.c.state == "active")
        with self.engine.connect() as conn:
            return [rollout_of(r) for r in conn.execute(query).mappings()]

    def promote(self, kind: Kind, subject: str, *, author: str, reason: str) -> Version:
        """The rollout's candidate goes in force for everyone."""
        rollout = self.rollout(kind, subject)
        if rollout is None or not self._end(rollout, "promoted", reason):
            raise Conflict(no_rollout(kind, subject))
        with self.engine.begin() as conn:
            conn.execute(
                update(CONFIG_ACTIVE)
                .where(CONFIG_ACTIVE.c.kind == kind.value, CONFIG_ACTIVE.c.subject == subject)
                .values(version=rollout.candidate, updated_at=time.time())
            )
        self._changed(rollout, rollout.candidate, rollout.baseline, author, reason, "promote")
        return self.get(rollout.candidate)

    def end_rollout(self, kind: Kind, subject: str, *, author: str, reason: str) -> ConfigRollout:
        """Stop a rollout: the version in force stays; the candidate serves nothing more."""
        rollout = self.rollout(kind, subject)
        if rollout is None or not self._end(rollout, "rolled_back", reason):
            raise Conflict(no_rollout(kind, subject))
        self._changed(rollout, rollout.baseline, rollout.candidate, author, reason, "rollout_ended")
        return rollout

    def count(self, rollout: ConfigRollout, arm: str, *, blocked: bool, error: bool) -> str:
        """Count one request of a rollout's arm; when the candidate does worse than the baseline by more than the
        margin, end the rollout (`auto`) and return the reason."""
        c = CONFIG_COUNTERS.c
        key = and_(c.rollout == rollout.id, c.arm == arm)
        deltas = {"requests": 1, "blocks": int(blocked), "errors": int(error)}
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    values = {name: c[name] + delta for name, delta in deltas.items()}
                    if conn.execute(update(CONFIG_COUNTERS).where(key).values(**values)).rowcount != 1:
                        conn.execute(insert(CONFIG_COUNTERS).values(rollout=rollout.id, arm=arm, **deltas))
                break
            except IntegrityError:  # another process created the row first: add to it
                continue
        counters = self.counters(rollout.id)
        reason = judge(
            counters.get("baseline", Counters()),
            counters.get("candidate", Counters()),
            margin=rollout.margin,
            min_requests=rollout.min_requests,
        )
        if reason:
            with contextlib.suppress(Conflict):  # another request (or process) ended it first
                self.end_rollout(rollout.kind, rollout.subject, author="auto", reason=reason)
        return reason

    def counters(self, rollout_id: str) -> dict[str, Counters]:
        query = select(CONFIG_COUNTERS).where(CONFIG_COUNTERS.c.rollout == rollout_id)
        with self.engine.connect() as conn:
            return {
                r["arm"]: Counters(requests=r["requests"], blocks=r["blocks"], errors=r["errors"])
                for r in conn.execute(query).mappings()
            }

    def _end(self, rollout: ConfigRollout, state: str, reason: str) -> bool:
        with self.engine.begin() as conn:
            ended = conn.execute(
                update(CONFIG_ROLLOUTS)
                .where(CONFIG_ROLLOUTS.c.id == rollout.id, CONFIG_ROLLOUTS.c.state == "active")
                .values(state=state, reason=reason, ended_at=time.time())
            ).rowcount
        return bool(ended == 1)

    def _changed(
        self, rollout: ConfigRollout, version: int, previous: int, author: str, reason: str, change: str
    ) -> None:
        self._announce(
            rollout.kind,
            rollout.subject,
            f"config-rollout-{rollout.id}",
            version,
            previous,
            self.get(version).digest,
            author=author,
            reason=reason,
            change=change,
            rollout={"id": rollout.id, "share": rollout.share, "tenants": list(rollout.tenants)},
        )

    def _announce(
        self,
        kind: Kind,
        subject: str,
        request_id: str,
        version: int,
        previous: int | None,
        digest: str,
        *,
        author: str,
        reason: str,
        change: str,
        rollout: dict[str, object] | None = None,
    ) -> None:
        """The one `config.changed` record of a change (a policy's under its tenant, the rest under "-")."""
        self._audit.append(
            ConfigChanged(
                tenant=subject if kind is Kind.POLICY and subject != "default" else ANONYMOUS,
                request_id=request_id,
                config=kind.value,
                subject=subject,
                version=version,
                previous=previous,
                digest=digest,
                author=author,
                reason=reason,
                change=change,
                rollout=rollout,
            )
        )
