"""`GET /v1/routing/status` (platform operator keys only): breaker states and why, live signals, route table version.

The router is shared by every tenant, so a tenant's admin may not read it: it needs a key with role `operator`
(`netops key create platform --role operator`).

Example:
    curl -H "Authorization: Bearer $OPERATOR_KEY" http://127.0.0.1:8080/v1/routing/status
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gateway.deps import Operator, services
from gateway.openapi import responses

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/routing/status", responses=responses(None, 403))
async def routing_status(request: Request, who: Operator) -> dict[str, Any]:
    """The router's view of every deployment; 403 for any key but a platform operator's."""
    svc = services(request)
    status = svc.router.status()
    status["limits"] = type(svc.metering.store).__name__
    return status
