"""Platform operator endpoints: `GET /v1/routing/status` (breaker states and why, live signals, route table
version, deployments drained) and the kill switches (`GET|POST /v1/kill`, `DELETE /v1/kill/{kind}/{name}`).

The router is shared by every tenant, so a tenant's admin may not read it: it needs a key with role `operator`
(`netops key create platform --role operator`).

Example:
    curl -H "Authorization: Bearer $OPERATOR_KEY" http://127.0.0.1:8080/v1/routing/status
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from gateway.deps import Operator, read_body, services
from gateway.kills import Target
from gateway.openapi import body, responses
from gateway.schemas import KillRequest

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
