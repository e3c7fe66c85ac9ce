"""`GET /v1/routing/status` (admin keys only): breaker states and why, live signals, route table version.

Example:
    curl -H "Authorization: Bearer $ADMIN_KEY" http://127.0.0.1:8080/v1/routing/status
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gateway.errors import Forbidden
from gateway.services import Services

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/routing/status")
async def routing_status(request: Request) -> dict[str, Any]:
    """The router's view of every deployment; 403 for a non-admin key."""
    svc: Services = request.app.state.svc
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")
    who = svc.tenants.authenticate(key)
    if who.role != "admin":
        raise Forbidden("GET /v1/routing/status needs an admin key")
    status = svc.router.status()
    status["limits"] = type(svc.metering.store).__name__
    return status
