"""HTTP endpoints for vetted tools: list and invoke granted tools, and decide pending change actions.

    GET  /v1/tools                              the caller's granted tools (OpenAI `tools` entries + risk)
    POST /v1/tools/{name}/invoke                run one tool: {"arguments": {...}}  (a change tool only proposes)
    GET  /v1/tools/actions[?status=pending]     the tenant's change actions
    GET  /v1/tools/actions/{id}
    POST /v1/tools/actions/{id}/approve         role approver/admin, not the proposer; runs once when enough approve
    POST /v1/tools/actions/{id}/deny

The tenant always comes from the API key. Every call, refusal, approval, denial and result is appended to
the audit log before the response is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.events import ActionDecided, ActionExecuted, AuditEvent
from gateway.errors import InvalidRequest
from gateway.services import Services
from gateway.steps import invoke_audited
from gateway.tenants import Principal
from guardrails import Action as ScanAction
from guardrails import Vault
from tools import Action, ToolContext, ToolError

__all__ = ["router"]

router = APIRouter(prefix="/v1/tools")


class InvokeRequest(BaseModel):
    """`POST /v1/tools/{name}/invoke`."""

    model_config = ConfigDict(extra="forbid")
    arguments: dict[str, Any]


def _svc(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


def _caller(request: Request) -> tuple[Principal, ToolContext]:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")
    svc = _svc(request)
    who = svc.tenants.authenticate(key)
    rid = str(request.scope["state"]["request_id"])
    return who, svc.toolbox.context(who.tenant, who.tools, role=who.role, key_id=who.key_id, request_id=rid)


async def _audit(svc: Services, event: AuditEvent) -> None:
    await asyncio.to_thread(svc.audit.append, event)


@router.get("")
async def list_tools(request: Request) -> dict[str, Any]:
    """The tools this key may call."""
    _, ctx = _caller(request)
    registry = _svc(request).tools
    entries = registry.schemas(ctx.grants, ctx.tenant)
    for entry in entries:
        entry["risk"] = registry.risks[entry["function"]["name"]].value
    return {"object": "list", "data": entries}


@router.post("/{name}/invoke")
async def invoke(name: str, request: Request) -> dict[str, Any]:
    """Validate and run one tool for the caller's tenant."""
    _, ctx = _caller(request)
    svc = _svc(request)
    try:
        body = InvokeRequest.model_validate(json.loads(await request.body() or b"null"))
    except (json.JSONDecodeError, ValidationError):
        raise InvalidRequest('the body must be {"arguments": {...}}') from None
    guards = svc.guards.for_tenant(ctx.tenant)
    result, guarded = await invoke_audited(svc, name, body.arguments, ctx, guards.context, Vault())
    verdicts = [v.summary() for v in guarded.verdicts if v.action is not ScanAction.ALLOW]
    return {**result.summary(), "output": guarded.text, "verdicts": verdicts}


@router.get("/actions")
async def list_actions(request: Request, status: str | None = None) -> dict[str, Any]:
    """The tenant's change actions, newest first."""
    who, _ = _caller(request)
    actions = await asyncio.to_thread(_svc(request).toolbox.approvals.list, who.tenant, status)
    return {"object": "list", "data": [a.public() for a in actions]}


@router.get("/actions/{action_id}")
async def get_action(action_id: str, request: Request) -> dict[str, Any]:
    who, _ = _caller(request)
    return (await asyncio.to_thread(_svc(request).toolbox.approvals.get, who.tenant, action_id)).public()


@router.post("/actions/{action_id}/approve")
async def approve(action_id: str, request: Request) -> dict[str, Any]:
    """Approve; when enough distinct approvers agreed, the action runs exactly once and its result is returned."""
    who, ctx = _caller(request)
    svc = _svc(request)
    try:
        action = await svc.toolbox.approvals.approve(who.tenant, action_id, key_id=who.key_id, role=who.role)
    except ToolError as exc:
        await _audit(svc, _decided(ctx, action_id, "approve", exc.code, None))
        raise
    await _audit(svc, _decided(ctx, action_id, "approve", action.status, action))
    if action.status in ("executed", "failed"):
        await _audit(svc, _executed(ctx, action))
    return action.public()


@router.post("/actions/{action_id}/deny")
async def deny(action_id: str, request: Request) -> dict[str, Any]:
    """Deny: the action can never run."""
    who, ctx = _caller(request)
    svc = _svc(request)
    try:
        action = await asyncio.to_thread(
            svc.toolbox.approvals.deny, who.tenant, action_id, key_id=who.key_id, role=who.role
        )
    except ToolError as exc:
        await _audit(svc, _decided(ctx, action_id, "deny", exc.code, None))
        raise
    await _audit(svc, _decided(ctx, action_id, "deny", action.status, action))
    return action.public()


def _decided(ctx: ToolContext, action_id: str, decision: str, outcome: str, action: Action | None) -> ActionDecided:
    return ActionDecided(
        tenant=ctx.tenant,
        request_id=ctx.request_id,
        key_id=ctx.key_id,
        action_id=action_id[:64],
        decision=decision,
        outcome=outcome,
        tool=action.tool if action else "",
        device=action.device if action else "",
        approvals=list(action.approvals) if action else [],
    )


def _executed(ctx: ToolContext, action: Action) -> ActionExecuted:
    return ActionExecuted(
        tenant=ctx.tenant,
        request_id=ctx.request_id,
        key_id=ctx.key_id,
        action_id=action.id,
        tool=action.tool,
        device=action.device,
        arguments=action.arguments,
        status=action.status,
        result_digest=hashlib.sha256((action.result or "").encode()).hexdigest(),
        rollback=action.rollback,
        approvals=list(action.approvals),
    )
