"""Routes (with their deployments) and guardrail policies as versioned configuration, applied without a restart.

    versions = ConfigVersions(engine, audit)
    candidate = validate_routes(body, settings)                 # RouteTable, or InvalidRequest naming the problem
    versions.record(Kind.ROUTES, "", body, author="ana", reason="add gpu-b")   # a new version, now in force
    versions.rollback(Kind.ROUTES, "", author="ana", reason="gpu-b flaps")     # the one before, as a new version
    live.maybe_refresh()                                        # each gateway process: swap in what is in force

A version is a row of `config_versions` (append-only: id, kind, subject, digest, canonical JSON body, author,
reason, time, parent); `config_active` names the version in force per (kind, subject) and every change is
audited (`config.changed`). The settings file stays the start: on first start its routes and policies are
recorded as version 1 (author `settings`), and a version in the database wins over the file from then on.

- Routes: the body is `{deployments: [...], routes: [...]}` as in `netops.yaml`, validated by building the
  route table (unknown deployments or fallbacks, missing capabilities). Secrets are not versioned: a deployment's
  `api_key` comes from the settings' deployment of the same name.
- Policies: a tenant's (or `default`'s) policy file as JSON, validated by building its chains, then judged on
  the shipped guardrail sets against the policy in force (`judge_policy`): fewer attacks blocked, more benign
  texts blocked or a secret line no longer redacted refuses it unless forced.
- Runtime: `LiveConfig` polls `config_active` at most every `refresh_s` (one indexed query) and swaps the
  router's table (`Router.use`) or the tenant's guards in place; requests in flight finish on what they started
  with. A dry run (`netops config apply --dry-run`) shows which recent requests would route differently
  (re-planned from their audit records) or which guardrail set items would be judged differently (request
  texts are never kept, so the sets stand in for them).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import enum
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.audit import AuditLog
from gateway.db import AUDIT, CONFIG_ACTIVE, CONFIG_COUNTERS, CONFIG_ROLLOUTS, CONFIG_VERSIONS
from gateway.errors import Conflict, GatewayError, InvalidRequest, NotFound
from gateway.events import ANONYMOUS, ConfigChanged
from gateway.kills import Kills, KillSwitches
from gateway.rollout import Counters, bucket, judge
from gateway.settings import Settings
from guardrails import Blocked, Guards, PolicyError, PolicyFile, ScanContext, SizeLimit, Stage, TenantGuards, Vault
from guardrails.policy import build_tenant_guards
from routing import ModelRequest, Route, Router, RouteTable
from routing.classify import RequestClass
from routing.errors import RoutingError
from routing.table import Deployment

__all__ = [
    "ConfigRollout",
    "ConfigVersions",
    "Kind",
    "LiveConfig",
    "PolicyJudgement",
    "Version",
    "diff",
    "guards_with",
    "judge_policy",
    "plan_changes",
    "policy_body",
    "routes_body",
    "validate_policy",
    "validate_routes",
]


log = logging.getLogger("netops.config")


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


def _canonical(body: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


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
            return [_version(r) for r in conn.execute(query).mappings()]

    def get(self, version_id: int) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(select(CONFIG_VERSIONS).where(CONFIG_VERSIONS.c.id == version_id)).mappings().first()
        if row is None:
            raise NotFound(f"no configuration version {version_id}")
        return _version(row)

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
        text, digest = _canonical(body)
        with self._lock, self.engine.begin() as conn:
            current = conn.execute(
                select(CONFIG_ACTIVE.c.version)
                .where(CONFIG_ACTIVE.c.kind == kind.value, CONFIG_ACTIVE.c.subject == subject)
                .with_for_update()  # PostgreSQL: two operators applying at once queue here
            ).scalar()
            active = None
            if current is not None:
                row = conn.execute(select(CONFIG_VERSIONS).where(CONFIG_VERSIONS.c.id == current)).mappings().one()
                active = _version(row)
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
        event = ConfigChanged(
            tenant=subject if kind is Kind.POLICY and subject != "default" else ANONYMOUS,
            request_id=f"config-{new_id}",
            config=kind.value,
            subject=subject,
            version=version.id,
            previous=active.id if active else None,
            digest=digest,
            author=author,
            reason=reason,
            change=change,
        )
        self._audit.append(event)
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
            return [_rollout(r) for r in conn.execute(query).mappings()]

    def promote(self, kind: Kind, subject: str, *, author: str, reason: str) -> Version:
        """The rollout's candidate goes in force for everyone."""
        rollout = self.rollout(kind, subject)
        if rollout is None or not self._end(rollout, "promoted", reason):
            raise Conflict(_no_rollout(kind, subject))
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
            raise Conflict(_no_rollout(kind, subject))
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
        event = ConfigChanged(
            tenant=rollout.subject if rollout.kind is Kind.POLICY and rollout.subject != "default" else ANONYMOUS,
            request_id=f"config-rollout-{rollout.id}",
            config=rollout.kind.value,
            subject=rollout.subject,
            version=version,
            previous=previous,
            digest=self.get(version).digest,
            author=author,
            reason=reason,
            change=change,
            rollout={"id": rollout.id, "share": rollout.share, "tenants": list(rollout.tenants)},
        )
        self._audit.append(event)


def _no_rollout(kind: Kind, subject: str) -> str:
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


def _rollout(row: Any) -> ConfigRollout:
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


def _version(row: Any) -> Version:
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


# -- routes -------------------------------------------------------------------------------------------------


def routes_body(deployments: list[Deployment], routes: list[Route]) -> dict[str, Any]:
    """The versioned form of a route table: no secrets (API keys stay in the settings)."""
    return {
        "deployments": [d.model_dump(mode="json", exclude={"api_key"}) for d in deployments],
        "routes": [r.model_dump(mode="json") for r in routes],
    }


def validate_routes(body: dict[str, Any], settings: Settings) -> RouteTable:
    """The route table of a body, with the settings' API keys; `InvalidRequest` names what is wrong."""
    if not isinstance(body, dict) or set(body) - {"deployments", "routes"}:
        raise InvalidRequest("a routes version is a mapping with `deployments` and `routes` only")
    keys = {d.name: d.api_key for d in settings.deployments}
    try:
        deployments = [
            Deployment.model_validate({**d, **({"api_key": keys[d["name"]]} if d.get("name") in keys else {})})
            for d in body.get("deployments") or []
        ]
        routes = [Route.model_validate(r) for r in body.get("routes") or []]
        if not deployments or not routes:
            raise InvalidRequest("a routes version needs at least one deployment and one route")
        return RouteTable(deployments, routes)
    except ValidationError as exc:
        raise _invalid("routes version", exc) from None
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"invalid routes version: {exc}") from None


def _invalid(what: str, exc: ValidationError) -> InvalidRequest:
    """The first validation problem, named by where it is."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return InvalidRequest(f"invalid {what} at {where}: {first['msg']}")


def plan_changes(engine: Engine, old: RouteTable, new: RouteTable, *, last: int = 200) -> list[dict[str, object]]:
    """The recent answered requests (from their audit records) whose first choice of deployment differs under
    `new`: each re-planned under both tables with the same (neutral) live signals."""
    query = select(AUDIT.c.request_id, AUDIT.c.payload).where(AUDIT.c.kind == "chat.completed")
    with engine.connect() as conn:
        rows = list(conn.execute(query.order_by(AUDIT.c.seq.desc()).limit(last)))
    before, after = Router(old, _NoBackend()), Router(new, _NoBackend())
    changed = []
    for request_id, raw in rows:
        record = json.loads(raw)
        routing = record.get("routing") or {}
        klass = RequestClass(
            "hard" if routing.get("class") == "hard" else "easy", bool(routing.get("sensitive")), ("from audit",)
        )
        size = int(record.get("prompt_tokens") or 0)
        request = ModelRequest([{"role": "user", "content": "x " * size}], 1, None)
        was, will = _first(before, record["route"], request, klass), _first(after, record["route"], request, klass)
        if was != will:
            changed.append({"request_id": request_id, "route": record["route"], "before": was, "after": will})
    return changed


def _first(router: Router, route_name: str, request: ModelRequest, klass: RequestClass) -> str:
    try:
        route = router.table.route(route_name)
    except RoutingError:
        return "(no such route)"
    order = router.plan(route, request, klass).order
    return order[0] if order else "(no eligible deployment)"


class _NoBackend:
    """Planning only: nothing is ever sent."""

    def stream(self, deployment: Deployment, request: ModelRequest) -> Any:
        raise RuntimeError("a dry run sends nothing")


# -- policies -----------------------------------------------------------------------------------------------


def policy_body(policy: PolicyFile) -> dict[str, Any]:
    return policy.model_dump(mode="json")


def validate_policy(subject: str, body: dict[str, Any], settings: Settings) -> TenantGuards:
    """A policy's chains, built (unknown scanners, options and thresholds fail here)."""
    g = settings.guardrails
    try:
        policy = PolicyFile.model_validate(body)
        return build_tenant_guards(subject, policy, size_limit=SizeLimit(g.max_input_chars, g.max_input_tokens))
    except ValidationError as exc:
        raise _invalid("policy", exc) from None
    except PolicyError as exc:
        raise InvalidRequest(f"invalid policy: {exc.detail}") from None


@dataclass(frozen=True, slots=True)
class PolicyJudgement:
    """A candidate policy against the one in force, on the shipped guardrail sets."""

    attacks: int
    benign: int
    secret_lines: int
    blocked: tuple[int, int]  # attacks blocked: (in force, candidate)
    false_blocks: tuple[int, int]  # benign texts blocked
    redacted: tuple[int, int]  # secret lines whose value was replaced
    newly_allowed: tuple[str, ...]  # attacks the candidate lets through, first few
    newly_blocked: tuple[str, ...]
    newly_leaked: tuple[str, ...]

    @property
    def regressed(self) -> bool:
        return (
            self.blocked[1] < self.blocked[0]
            or self.false_blocks[1] > self.false_blocks[0]
            or self.redacted[1] < self.redacted[0]
        )

    def lines(self) -> list[str]:
        return [
            f"attacks blocked {self.blocked[0]} -> {self.blocked[1]} of {self.attacks}",
            f"benign texts blocked {self.false_blocks[0]} -> {self.false_blocks[1]} of {self.benign}",
            f"secret lines redacted {self.redacted[0]} -> {self.redacted[1]} of {self.secret_lines}",
            *(f"  newly allowed: {t[:100]}" for t in self.newly_allowed),
            *(f"  newly blocked: {t[:100]}" for t in self.newly_blocked),
            *(f"  newly leaked: {t[:100]}" for t in self.newly_leaked),
        ]


def judge_policy(current: TenantGuards, candidate: TenantGuards) -> PolicyJudgement:
    """Run both input chains over the shipped injection, benign and secret-line sets."""
    from evals.guardrails_data import load_lines, load_secret_lines  # noqa: PLC0415 - only when judging

    attacks = [t.text for t in load_lines("injection_eval.txt", attack=True)]
    benign = [t.text for t in load_lines("noc_benign_eval.txt", attack=False)]
    secrets = [(s.text, s.secrets) for s in load_secret_lines() if s.secrets]

    def guarded(guards: TenantGuards, text: str) -> str | None:
        """The guarded text, or None when the chain blocks it."""
        try:
            return guards.input.run(text, ScanContext("config-judge", Stage.INPUT, Vault())).text
        except Blocked:
            return None

    def blocks(guards: TenantGuards, text: str) -> bool:
        return guarded(guards, text) is None

    def redacts(guards: TenantGuards, text: str, values: tuple[str, ...]) -> bool:
        out = guarded(guards, text)
        return out is None or not any(v in out for v in values)

    a = [(blocks(current, t), blocks(candidate, t)) for t in attacks]
    b = [(blocks(current, t), blocks(candidate, t)) for t in benign]
    s = [(redacts(current, t, v), redacts(candidate, t, v)) for t, v in secrets]
    return PolicyJudgement(
        len(attacks),
        len(benign),
        len(secrets),
        (sum(x for x, _ in a), sum(y for _, y in a)),
        (sum(x for x, _ in b), sum(y for _, y in b)),
        (sum(x for x, _ in s), sum(y for _, y in s)),
        tuple(t for t, (x, y) in zip(attacks, a, strict=True) if x and not y)[:5],
        tuple(t for t, (x, y) in zip(benign, b, strict=True) if y and not x)[:5],
        tuple(t for (t, _), (x, y) in zip(secrets, s, strict=True) if x and not y)[:5],
    )


# -- runtime ------------------------------------------------------------------------------------------------


class LiveConfig:
    """Keeps one gateway process on the versions in force and the running rollouts' candidates (polled at most
    every `refresh_s`)."""

    def __init__(self, versions: ConfigVersions, *, refresh_s: float) -> None:
        self.versions = versions
        self.refresh_s = refresh_s
        self.applied: dict[tuple[str, str], int] = {}
        self.rollouts: dict[tuple[str, str], tuple[ConfigRollout, object]] = {}  # (kind, subject) -> candidate
        self._due = 0.0
        self._lock = asyncio.Lock()
        self._build: dict[Kind, Callable[[str, dict[str, Any]], object]] = {}
        self._use: dict[Kind, Callable[[str, Any], None]] = {}
        self.kills = Kills()  # the kill switches thrown, read with every poll (gateway.kills)
        self._switches: KillSwitches | None = None
        self._on_kills: Callable[[Kills], None] = lambda _: None

    def watch(self, switches: KillSwitches, on_kills: Callable[[Kills], None]) -> None:
        """Read the kill switches with every poll; `on_kills` hears each new reading."""
        self._switches, self._on_kills = switches, on_kills

    def on(self, kind: Kind, build: Callable[[str, dict[str, Any]], object], use: Callable[[str, Any], None]) -> None:
        """How a version of `kind` is built from its body (`build(subject, body)`, also for a rollout's candidate)
        and put in force in this process (`use(subject, built)`)."""
        self._build[kind], self._use[kind] = build, use

    async def maybe_refresh(self) -> None:
        """Poll when due (off the event loop); a failed poll keeps what is in force and tries again later."""
        if time.monotonic() < self._due or self._lock.locked():
            return
        async with self._lock:
            self._due = time.monotonic() + self.refresh_s
            try:
                await asyncio.to_thread(self.refresh)
            except SQLAlchemyError as exc:  # the store is down: keep serving what is in force
                log.warning("config poll failed (%s); keeping the versions in force", type(exc).__name__)

    def refresh(self) -> None:
        """Apply every version in force that this process does not run yet; load new rollouts' candidates."""
        for (kind, subject), version_id in sorted(self.versions.active_ids().items()):
            if self.applied.get((kind, subject)) == version_id:
                continue
            built = self._built(Kind(kind), subject, version_id)
            if built is not None:
                self._use[Kind(kind)](subject, built)
            self.applied[(kind, subject)] = version_id
        running: dict[tuple[str, str], tuple[ConfigRollout, object]] = {}
        for rollout in self.versions.rollouts():
            key = (rollout.kind.value, rollout.subject)
            known = self.rollouts.get(key)
            if known is not None and known[0].id == rollout.id:
                running[key] = known
                continue
            built = self._built(rollout.kind, rollout.subject, rollout.candidate)
            if built is not None:
                running[key] = (rollout, built)
        self.rollouts = running
        if self._switches is not None:
            self.kills = Kills.of(self._switches.list())
            self._on_kills(self.kills)

    def _built(self, kind: Kind, subject: str, version_id: int) -> object | None:
        build = self._build.get(kind)
        if build is None:
            return None
        try:
            return build(subject, self.versions.get(version_id).body)
        except GatewayError as exc:  # validated when recorded; the settings changed since (a missing key)
            log.error("config version %s (%s %s) not applied: %s", version_id, kind.value, subject, exc.detail)
            return None

    def candidate(self, kind: Kind, subject: str, tenant: str, conversation: str) -> tuple[ConfigRollout, Any, bool]:
        """For a rollout of (kind, subject): the rollout, its built candidate, and whether it serves this
        conversation; raises KeyError when none runs."""
        rollout, built = self.rollouts[(kind.value, subject)]
        return rollout, built, rollout.serves(tenant, conversation)


def guards_with(guards: Guards, subject: str, tenant: TenantGuards) -> Guards:
    """`guards` with one tenant's (or the default's) chains replaced."""
    if subject == "default":
        return Guards(default=tenant, tenants=dict(guards.tenants))
    return Guards(default=guards.default, tenants={**guards.tenants, subject: tenant})
