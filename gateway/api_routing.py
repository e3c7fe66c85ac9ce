"""Platform operator endpoints: `GET /v1/routing/status` (breaker states and why, live signals, route table
version, deployments drained) and the kill switches (`GET|POST /v1/kill`, `DELETE /v1/kill/{kind}/{name}`).

The router is shared by every tenant, so a tenant's admin may not read it: it needs a key with role `operator`
(`netops key create platform --role operator`).

`GET /v1/kill/active` is for every key (the chat UI's banner): the switches in force that affect the caller,
from this process's live view. For a tenant key: the routes it may call, the deployments serving them (drains),
the tools it is granted, the prompt versions it may be served (in force, or its rollout's baseline and
candidate) and its own tenant (never another tenant's). An operator key sees every switch. A tenant that is
itself switched off is refused by the key check (503 `killed`, with the reason), as on every endpoint.

Example:
    curl -H "Authorization: Bearer $OPERATOR_KEY" http://127.0.0.1:8080/v1/routing/status
    curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8080/v1/kill/active
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gateway.deps import Caller, Operator, read_body, services
from gateway.kills import Switch, Target
from gateway.openapi import body, responses
from gateway.schemas import KillRequest
from gateway.services import Services
from gateway.tenants import Principal, Role
from routing import RouteTable

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/routing/status", responses=responses(None, 403))
async def routing_status(request: Request, who: Operator) -> dict[str, Any]:
    """The router's view of every deployment; 403 for any key but a platform operator's."""
    svc = services(request)
    status = svc.router.status()
    status["limits"] = type(svc.metering.store).__name__
    status["kill_switches"] = svc.live.kills.public()
    return status


@router.get("/v1/kill", responses=responses(None, 403))
async def kill_list(request: Request, who: Operator) -> dict[str, Any]:
    """The switches thrown (as every process reads them within `config_refresh_s`)."""
    svc = services(request)
    switches = await asyncio.to_thread(svc.kill.list)
    return {"object": "list", "data": [s.public() for s in switches]}


class ActiveSwitch(BaseModel):
    """A switch in force that affects the caller; `routes`: for a drained deployment, the caller's routes it serves."""

    kind: Target
    name: str
    reason: str
    author: str
    at: float
    routes: list[str] | None = None


class ActiveSwitches(BaseModel):
    """`GET /v1/kill/active`: the switches that affect the caller; `operator` says the key may throw and revive."""

    object: str = "list"
    tenant: str
    role: str
    operator: bool
    data: list[ActiveSwitch]


@router.get("/v1/kill/active", responses=responses(ActiveSwitches, 503))
async def kill_active(request: Request, who: Caller) -> ActiveSwitches:
    """The switches in force that affect this key (every key may ask; see the module docstring)."""
    svc = services(request)
    switches = [s for by_name in svc.live.kills.by_kind.values() for s in by_name.values()]
    operator = who.role is Role.OPERATOR
    prompts: set[str] = set()
    if not operator and any(s.kind is Target.PROMPT for s in switches):
        prompts = await asyncio.to_thread(_prompts, svc, who.tenant)
    table = svc.router.table
    routes = {name for name in table.routes if operator or who.may_use(name)}
    serving = _serving(table, routes)
    shown = [_shown(s, who, routes, serving, prompts) for s in switches]
    data = sorted((s for s in shown if s is not None), key=lambda s: s.at, reverse=True)
    return ActiveSwitches(tenant=who.tenant, role=who.role.value, operator=operator, data=data)


def _prompts(svc: Services, tenant: str) -> set[str]:
    """The prompt versions a tenant may be served: the one in force, and its rollout's baseline and candidate."""
    versions = {svc.rollouts.in_force(tenant)}
    rollout = svc.rollouts.active(tenant)
    if rollout is not None:
        versions |= {rollout.baseline, rollout.candidate}
    return versions


def _serving(table: RouteTable, routes: set[str]) -> dict[str, list[str]]:
    """Deployment -> the given routes it serves (as a route's own deployment or a fallback's)."""
    serving: dict[str, list[str]] = {}
    for name in sorted(routes):
        for deployment in table.candidates(table.routes[name]):
            serving.setdefault(deployment.name, []).append(name)
    return serving


def _shown(
    s: Switch, who: Principal, routes: set[str], serving: dict[str, list[str]], prompts: set[str]
) -> ActiveSwitch | None:
    """The switch as the caller sees it, or None when it does not affect the caller (an operator: all)."""
    affects = (
        who.role is Role.OPERATOR
        or {
            Target.TENANT: s.name == who.tenant,
            Target.ROUTE: s.name in routes,
            Target.DEPLOYMENT: s.name in serving,
            Target.TOOL: s.name in who.tools,
            Target.PROMPT: s.name in prompts,
        }[s.kind]
    )
    if not affects:
        return None
    served = serving.get(s.name) if s.kind is Target.DEPLOYMENT else None
    return ActiveSwitch(kind=s.kind, name=s.name, reason=s.reason, author=s.author, at=s.at, routes=served)


@router.post("/v1/kill", openapi_extra=body(KillRequest), responses=responses(None, 400, 403, 422))
async def kill_throw(request: Request, who: Operator) -> dict[str, Any]:
    """Switch a tool, route, deployment or tenant off: audited, in force on every process within about a second."""
    req = await read_body(request, KillRequest)
    svc = services(request)
    switch = await asyncio.to_thread(
        svc.kill.throw, Target(req.kind), req.name, reason=req.reason, author=f"key {who.key_id}"
    )
    await asyncio.to_thread(svc.live.refresh)  # this process at once
    return switch.public()


@router.delete("/v1/kill/{kind}/{name}", responses=responses(None, 403, 404))
async def kill_revive(kind: Target, name: str, request: Request, who: Operator) -> dict[str, Any]:
    """Revive a switch (404 when it is not thrown)."""
    svc = services(request)
    await asyncio.to_thread(svc.kill.revive, kind, name, author=f"key {who.key_id}")
    await asyncio.to_thread(svc.live.refresh)
    return {"kind": kind.value, "name": name, "revived": True}
