"""Prompt rollouts over HTTP, for a tenant's admins (`gateway.rollout`; the CLI does the same for any scope).

    GET  /v1/admin/prompts                 -> the version in force, the active rollout and its counters
    POST /v1/admin/prompts/canary          {"version", "share", "shadow", "margin", "min_requests"}
    POST /v1/admin/prompts/promote         -> the ended rollout (its candidate is now in force)
    POST /v1/admin/prompts/rollback        -> the ended rollout

An admin key acts on its own tenant only; rollouts over every tenant (`--all`) are the platform's, from the
CLI. Each switch is audited by `gateway.rollout` (`prompts.*`, actor = the key id) besides the request's own
final record. Unknown versions are 404, a second rollout or the version already in force 409, bad numbers 422.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import read_body, require, services, turn_of
from gateway.openapi import body, responses
from gateway.rollout_model import Mode, Rollout
from gateway.tenants import Principal, Role

__all__ = ["CanaryRequest", "RolloutView", "router"]

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


class CanaryRequest(BaseModel):
    """`POST /v1/admin/prompts/canary`: a kept version beside the one in force (margin/min: settings' defaults)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[0-9a-f]{12}$")
    share: float = Field(0.1, ge=0.0, le=1.0)
    shadow: bool = False
    margin: float | None = Field(None, ge=0.0, le=1.0)
    min_requests: int | None = Field(None, ge=1, le=1_000_000)


class RolloutView(BaseModel):
    """A rollout: scope, baseline and candidate, mode, share, margin, minimum, state."""

    model_config = ConfigDict(extra="allow")

    id: str
    scope: str
    baseline: str
    candidate: str
    mode: str
    state: str


@router.get("/v1/admin/prompts", responses=responses(None, 403))
async def prompt_status(request: Request, who: Admin) -> dict[str, Any]:
    """The tenant's version in force and the rollout covering it, with each version's counters."""
    rollouts = services(request).rollouts
    in_force = await asyncio.to_thread(rollouts.in_force, who.tenant)
    active = await asyncio.to_thread(rollouts.active, who.tenant)
    counters = await asyncio.to_thread(rollouts.by_version, active.id) if active else {}
    return {
        "in_force": in_force,
        "rollout": _view(active) if active else None,
        "counters": {version: c.summary() for version, c in counters.items()},
    }


@router.post(
    "/v1/admin/prompts/canary",
    openapi_extra=body(CanaryRequest),
    responses=responses(RolloutView, 400, 403, 404, 409, 413, 422),
)
async def start_canary(request: Request, who: Admin) -> dict[str, Any]:
    """Start a canary (or, with `shadow`, a shadow) rollout of a kept version for the caller's tenant."""
    req = await read_body(request, CanaryRequest)
    svc, ps = services(request), services(request).settings.prompts
    start = partial(
        svc.rollouts.start,
        who.tenant,
        req.version,
        mode=Mode.SHADOW if req.shadow else Mode.CANARY,
        share=1.0 if req.shadow else req.share,
        margin=ps.canary_margin if req.margin is None else req.margin,
        min_requests=ps.canary_min_requests if req.min_requests is None else req.min_requests,
        actor=who.key_id,
    )
    return _done(request, await asyncio.to_thread(start))


@router.post("/v1/admin/prompts/promote", responses=responses(RolloutView, 403, 404, 409))
async def promote(request: Request, who: Admin) -> dict[str, Any]:
    """Make the active rollout's candidate the tenant's version in force."""
    rollouts = services(request).rollouts
    return _done(request, await asyncio.to_thread(partial(rollouts.promote, who.tenant, actor=who.key_id)))


@router.post("/v1/admin/prompts/rollback", responses=responses(RolloutView, 403, 404, 409))
async def rollback(request: Request, who: Admin) -> dict[str, Any]:
    """End the tenant's active rollout; its baseline stays in force."""
    rollouts = services(request).rollouts
    return _done(request, await asyncio.to_thread(partial(rollouts.rollback, who.tenant, actor=who.key_id)))


def _done(request: Request, rollout: Rollout) -> dict[str, Any]:
    turn_of(request).details.update(rollout=rollout.id, candidate=rollout.candidate, state=rollout.state)
    return _view(rollout)


def _view(rollout: Rollout) -> dict[str, Any]:
    return {**asdict(rollout), "mode": rollout.mode.value}
