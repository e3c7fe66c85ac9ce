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
from typing import Any

from fastapi import APIRouter, Request

from gateway.deps import Caller, read_body, services, turn_of
from gateway.events import ActionDecided, ActionExecuted, AuditEvent
from gateway.openapi import body, responses
from gateway.schemas import ActionView, InvokeRequest, InvokeResponse, ListOf
from gateway.services import Services
from gateway.steps import invoke_audited
from guardrails import Action as ScanAction
from tools import Action, ToolContext, ToolError
from tools.approvals import ran_for

__all__ = ["router"]

router = APIRouter(prefix="/v1/tools")


async def _audit(svc: Services, event: AuditEvent) -> None:
    await svc.audit.append_async(event)


@router.get("", responses=responses(ListOf))
async def list_tools(request: Request, who: Caller) -> dict[str, Any]:
    """The tools this key may call."""
    ctx = turn_of(request).tool_context()
    registry = services(request).tools
    entries = registry.schemas(ctx.grants, ctx.tenant)
    for entry in entries:
        entry["risk"] = registry.risks[entry["function"]["name"]].value
    return {"object": "list", "data": entries}


@router.post(
    "/{name}/invoke",
    openapi_extra=body(InvokeRequest),
    responses=responses(InvokeResponse, 400, 403, 413, 422, 502, 503),
)
async def invoke(name: str, request: Request, who: Caller) -> dict[str, Any]:
    """Validate and run one tool for the caller's tenant (a change tool only proposes a pending action)."""
    req = await read_body(request, InvokeRequest)
    turn = turn_of(request)
    result, guarded = await invoke_audited(turn, name, req.arguments, turn.tool_context())
    verdicts = [v.summary() for v in guarded.verdicts if v.action is not ScanAction.ALLOW]
    turn.details.update(tool=result.tool, output_digest=result.output_digest)
    return {**result.summary(), "output": guarded.text, "verdicts": verdicts}


@router.get("/actions", responses=responses(ListOf))
async def list_actions(request: Request, who: Caller, status: str | None = None) -> dict[str, Any]:
    """The tenant's change actions, newest first."""
    actions = await asyncio.to_thread(services(request).toolbox.approvals.list, who.tenant, status)
    return {"object": "list", "data": [a.public() for a in actions]}


@router.get("/actions/{action_id}", responses=responses(ActionView, 404))
async def get_action(action_id: str, request: Request, who: Caller) -> dict[str, Any]:
    return (await asyncio.to_thread(services(request).toolbox.approvals.get, who.tenant, action_id)).public()


@router.post("/actions/{action_id}/approve", responses=responses(ActionView, 403, 404, 409))
async def approve(action_id: str, request: Request, who: Caller) -> dict[str, Any]:
    """Approve; when enough distinct approvers agreed, the action runs exactly once and its result is returned."""
    svc, ctx = services(request), turn_of(request).tool_context()
    try:
        action = await svc.toolbox.approvals.approve(who.tenant, action_id, key_id=who.key_id, role=who.role)
    except ToolError as exc:
        await _audit(svc, _decided(ctx, action_id, "approve", exc.code, None))
        raise
    await _audit(svc, _decided(ctx, action_id, "approve", action.status, action))
    if ran_for(action, who.key_id):  # this approval ran it (another replica's re-read must not record it twice)
        svc.caches.changed(who.tenant)
        await _audit(svc, _executed(ctx, action))
    return action.public()


@router.post("/actions/{action_id}/deny", responses=responses(ActionView, 403, 404, 409))
async def deny(action_id: str, request: Request, who: Caller) -> dict[str, Any]:
    """Deny: the action can never run."""
    svc, ctx = services(request), turn_of(request).tool_context()
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
