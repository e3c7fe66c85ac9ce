"""Pending change actions: proposed by a `change` tool, run only after enough human approvals, exactly once.

    pending --approve (n of required)--> executing --> executed | failed
    pending --deny--> denied          pending --past expires_at--> expired

An action stores the exact command lines that will run (rendered from the allow-listed template when it
is proposed) and the state of its target read from the device at that moment (`before`), so an approver
sees what will change and from what.

Every transition is one conditional UPDATE (`WHERE status = 'pending'`), so two racing approvals, or a
replayed one, can never run an action twice; the one that loses re-reads the action and, if it is still pending
(another key's approval of a two-person action landed first), adds its own on top, so no approval is lost.
An approver must hold role `approver` or `admin`, must not be the key that proposed it, and counts once (the
two-person rule needs two distinct keys).

Example:
    approvals = Approvals(engine, devices)
    action = approvals.propose(ctx, plan)                     # nothing runs
    done = await approvals.approve("demo", action.id, key_id="k2", role="approver")
    done.status  # "executed"; done.result, done.rollback
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError

from tools.devices import Devices
from tools.errors import ActionNotFound, ActionNotPending, ApprovalRefused, ToolError
from tools.registry import Risk, ToolContext

__all__ = ["APPROVER_ROLES", "Action", "Approvals", "Plan", "ran_for"]

APPROVER_ROLES = frozenset({"approver", "admin"})
_META = MetaData()
ACTIONS = Table(
    "pending_actions",
    _META,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("tool", String(64), nullable=False),
    Column("device", String(64), nullable=False),
    Column("template", String(64), nullable=False),
    Column("params", Text, nullable=False),  # JSON: the validated template values
    Column("arguments", Text, nullable=False),  # JSON: the tool call's validated arguments
    Column("preview", Text, nullable=False),
    Column("rollback", Text, nullable=False),
    Column("requested_by", String(32), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("required", Integer, nullable=False),
    Column("approvals", Text, nullable=False),  # JSON list of approving key ids
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
    Column("result", Text, nullable=True),
    Column("commands", Text, nullable=True),  # JSON list: the exact lines that run when approved
    Column("before_state", Text, nullable=True),  # JSON: the target's state read from the device when proposed
)
_ADDED_COLUMNS = ("commands", "before_state")  # absent from tables created by earlier versions
_RACES = 8  # re-reads after a lost race: each loss is another key's approval, and at most 5 are required


@dataclass(frozen=True, slots=True)
class Plan:
    """What a change tool wants to run: one allow-listed change template, a preview, a rollback hint and the
    target's current state read from the device (`before`)."""

    tool: str
    device: str
    template: str
    params: dict[str, str]
    arguments: dict[str, Any]
    preview: str
    rollback: str
    before: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Action:
    """A pending (or decided) change action as stored."""

    id: str
    tenant: str
    tool: str
    device: str
    arguments: dict[str, Any]
    preview: str
    rollback: str
    requested_by: str
    required: int
    approvals: tuple[str, ...]
    status: str
    created_at: float
    expires_at: float
    result: str | None
    commands: tuple[str, ...] = ()
    before: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, object]:
        """The API view (no internal template values): `commands` are the exact lines that run once approved,
        `before` the target's state when the action was proposed."""
        return {
            "id": self.id,
            "tool": self.tool,
            "device": self.device,
            "arguments": self.arguments,
            "preview": self.preview,
            "rollback": self.rollback,
            "requested_by": self.requested_by,
            "required_approvals": self.required,
            "approvals": list(self.approvals),
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "result": self.result,
            "commands": list(self.commands),
            "before": self.before,
        }


class Approvals:
    """The pending-action store and its state machine."""

    def __init__(self, engine: Engine, devices: Devices) -> None:
        self._engine = engine
        self._devices = devices
        _create_table(engine)
        _add_missing_columns(engine)

    def propose(self, ctx: ToolContext, plan: Plan) -> Action:
        """Record a pending action (after checking device and template) with the exact lines it will run;
        nothing runs."""
        _, command = self._devices.prepare(ctx.tenant, plan.device, plan.template, Risk.CHANGE, **plan.params)
        policy = self._devices.inventory.for_tenant(ctx.tenant).approvals
        now, action_id = time.time(), secrets.token_hex(8)
        row = {
            "id": action_id,
            "tenant": ctx.tenant,
            "tool": plan.tool,
            "device": plan.device,
            "template": plan.template,
            "params": json.dumps(plan.params, sort_keys=True),
            "arguments": json.dumps(plan.arguments, sort_keys=True),
            "preview": plan.preview,
            "rollback": plan.rollback,
            "requested_by": ctx.key_id,
            "request_id": ctx.request_id,
            "required": policy.required,
            "approvals": "[]",
            "status": "pending",
            "created_at": now,
            "expires_at": now + policy.expiry_s,
            "commands": json.dumps(list(command.lines)),
            "before_state": json.dumps(plan.before),
        }
        with self._engine.begin() as conn:
            conn.execute(insert(ACTIONS).values(**row))
        return self.get(ctx.tenant, action_id)

    def get(self, tenant: str, action_id: str) -> Action:
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(ACTIONS).where(ACTIONS.c.id == action_id, ACTIONS.c.tenant == tenant))
                .mappings()
                .first()
            )
        if row is None:
            raise ActionNotFound(f"no action {action_id!r} for tenant {tenant!r}")
        return _action(row)

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Action]:
        query = select(ACTIONS).where(ACTIONS.c.tenant == tenant).order_by(ACTIONS.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(ACTIONS.c.status == status)
        with self._engine.connect() as conn:
            return [_action(r) for r in conn.execute(query).mappings()]

    async def approve(self, tenant: str, action_id: str, *, key_id: str, role: str) -> Action:
        """Add one approval; when enough distinct approvers agree, run the action once and record its result.
        Database work runs off the event loop."""
        action = await asyncio.to_thread(self._add_approval, tenant, action_id, key_id, role)
        if not _decided_by(action, key_id):  # still pending, or another key's approval made it run
            return action
        return await self._execute(action)

    def _add_approval(self, tenant: str, action_id: str, key_id: str, role: str) -> Action:
        for _ in range(_RACES):  # lost to a concurrent approval: re-read, and approve on top if still pending
            action = self._check_decidable(tenant, action_id, key_id, role)
            if key_id in action.approvals:
                raise ApprovalRefused(f"key {key_id} has already approved action {action_id}")
            approvals = [*action.approvals, key_id]
            status = "executing" if len(approvals) >= action.required else "pending"
            values: dict[str, Any] = {"approvals": json.dumps(approvals), "status": status}
            if self._transition(action, values, expect_approvals=action.approvals):
                return self.get(tenant, action_id)
        raise ActionNotPending(f"action {action_id} kept changing concurrently; it was not approved")

    def deny(self, tenant: str, action_id: str, *, key_id: str, role: str) -> Action:
        """Refuse the action: it can never run."""
        for _ in range(_RACES):  # lost to a concurrent partial approval: re-read, and deny if still pending
            action = self._check_decidable(tenant, action_id, key_id, role)
            values: dict[str, Any] = {"status": "denied", "decided_at": time.time()}
            if self._transition(action, values, expect_approvals=action.approvals):
                return self.get(tenant, action_id)
        raise ActionNotPending(f"action {action_id} kept changing concurrently; it was not denied")

    def _check_decidable(self, tenant: str, action_id: str, key_id: str, role: str) -> Action:
        if role not in APPROVER_ROLES:
            raise ApprovalRefused(f"role {role!r} may not approve or deny actions (needs approver or admin)")
        action = self.get(tenant, action_id)
        if action.status == "pending" and time.time() > action.expires_at:
            self._set(action.id, {"status": "expired", "decided_at": time.time()}, only_if="pending")
            action = self.get(tenant, action_id)
        if action.status != "pending":
            raise ActionNotPending(f"action {action_id} is {action.status}; it cannot be approved or denied again")
        if key_id == action.requested_by:
            raise ApprovalRefused("the key that proposed an action may not approve or deny it")
        return action

    def _transition(self, action: Action, values: dict[str, Any], *, expect_approvals: tuple[str, ...]) -> bool:
        """Apply `values` only if the action is still pending with exactly `expect_approvals`; False if another
        approval or decision got there first (the caller re-reads: nothing ran twice, nothing was lost)."""
        query = update(ACTIONS).where(
            ACTIONS.c.id == action.id,
            ACTIONS.c.status == "pending",
            ACTIONS.c.approvals == json.dumps(list(expect_approvals)),
        )
        with self._engine.begin() as conn:
            return int(conn.execute(query.values(**values)).rowcount) == 1

    def _set(self, action_id: str, values: dict[str, Any], *, only_if: str) -> int:
        query = update(ACTIONS).where(ACTIONS.c.id == action_id, ACTIONS.c.status == only_if).values(**values)
        with self._engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def _plan_of(self, action_id: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(select(ACTIONS.c.template, ACTIONS.c.params).where(ACTIONS.c.id == action_id)).one()

    def _finish(self, action: Action, status: str, result: str) -> Action:
        self._set(action.id, {"status": status, "result": result, "decided_at": time.time()}, only_if="executing")
        return self.get(action.tenant, action.id)

    async def _execute(self, action: Action) -> Action:
        row = await asyncio.to_thread(self._plan_of, action.id)
        try:
            _, output = await self._devices.run(
                action.tenant, action.device, row.template, risk=Risk.CHANGE, **json.loads(row.params)
            )
            status, result = "executed", output.strip() or "ok"
        except ToolError as exc:
            status, result = "failed", exc.detail
        except Exception as exc:  # noqa: BLE001 - never leave an action `executing`: it could not be retried or denied
            status, result = "failed", f"the change could not be run ({type(exc).__name__})"
        return await asyncio.to_thread(self._finish, action, status, result)


def _decided_by(action: Action, key_id: str) -> bool:
    """Whether `key_id`'s approval is the one that made the action run: the last approval of an executing action.
    Approvals change only while pending and a key counts once, so exactly one approver sees True; `status ==
    "executing"` alone would also hold for an earlier approver whose re-read lands after the deciding one."""
    return action.status == "executing" and action.approvals[-1:] == (key_id,)


def ran_for(action: Action, key_id: str) -> bool:
    """Whether this key's approval is the one the action ran on (it is `executed` or `failed` and the key decided
    it): what tells the approver whose call ran the change apart from one whose re-read saw it done."""
    return action.status in ("executed", "failed") and action.approvals[-1:] == (key_id,)


def _create_table(engine: Engine) -> None:
    """`create_all`, tolerating replicas that start together on a fresh PostgreSQL (the loser of a racing CREATE
    TABLE fails on the catalog's unique index; once the winner is done, retry), as `gateway.db` does."""
    for attempt in range(5):
        try:
            _META.create_all(engine)
            return
        except (IntegrityError, ProgrammingError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _action(row: Any) -> Action:
    return Action(
        id=row["id"],
        tenant=row["tenant"],
        tool=row["tool"],
        device=row["device"],
        arguments=json.loads(row["arguments"]),
        preview=row["preview"],
        rollback=row["rollback"],
        requested_by=row["requested_by"],
        required=int(row["required"]),
        approvals=tuple(json.loads(row["approvals"])),
        status=row["status"],
        created_at=float(row["created_at"]),
        expires_at=float(row["expires_at"]),
        result=row["result"],
        commands=tuple(json.loads(row["commands"] or "[]")),
        before=json.loads(row["before_state"] or "{}"),
    )


def _add_missing_columns(engine: Engine) -> None:
    """Bring a `pending_actions` table made by an earlier version up to date (nullable columns only)."""
    present = {column["name"] for column in inspect(engine).get_columns(ACTIONS.name)}
    missing = [name for name in _ADDED_COLUMNS if name not in present]
    if missing:
        with engine.begin() as conn:
            for name in missing:  # names from the constant tuple above, never from input
                conn.execute(text(f"ALTER TABLE {ACTIONS.name} ADD COLUMN {name} TEXT"))
