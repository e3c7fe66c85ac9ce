"""The one table from exceptions to HTTP: RFC 9457 problem+json with stable codes.

Every response body for an error has `type`, `title`, `status`, `detail`, `code` and `request_id`.
Unexpected exceptions become a 500 `internal_error` without a traceback (and are logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from gateway.db import store_unreachable
from gateway.errors import (
    Conflict,
    Forbidden,
    GatewayError,
    InvalidRequest,
    MalformedBody,
    ModelNotAllowed,
    NotFound,
    StoreUnavailable,
    Unauthenticated,
)
from gateway.kills import Killed, ToolKilled
from guardrails import Blocked, GuardrailError, InputTooLarge, ScannerFailed
from retrieval import IndexUnavailable, InvalidQuery, NothingToRollBack, PromoteRefused, RetrievalError, UnknownVersion
from routing import (
    BackendMalformed,
    BackendUnavailable,
    BudgetExhausted,
    DeploymentFailed,
    LimitExceeded,
    NoEligibleDeployment,
    RoutingError,
    UnknownModel,
)
from tools import (
    ActionNotFound,
    ActionNotPending,
    ApprovalRefused,
    CommandNotAllowed,
    InvalidArguments,
    LabError,
    ToolError,
    ToolFailed,
    ToolNotAllowed,
)

__all__ = ["DOMAIN_ERRORS", "PROBLEM_TYPE", "STATUS", "as_domain_error", "problem", "problem_for"]

PROBLEM_TYPE = "https://netops-assistant.dev/problems/"
log = logging.getLogger("netops.gateway")

STATUS: dict[type[Exception], tuple[int, str]] = {
    Unauthenticated: (401, "Unauthorized"),
    ModelNotAllowed: (403, "Model not allowed"),
    Forbidden: (403, "Forbidden"),
    ToolNotAllowed: (403, "Tool not allowed"),
    CommandNotAllowed: (403, "Command not allow-listed"),
    ApprovalRefused: (403, "Approval refused"),
    ActionNotFound: (404, "Action not found"),
    ActionNotPending: (409, "Action not pending"),
    LabError: (503, "Lab unavailable"),
    NotFound: (404, "Not found"),
    UnknownModel: (404, "Model not found"),
    Conflict: (409, "Conflict"),
    StoreUnavailable: (503, "State store unavailable"),
    InputTooLarge: (413, "Request too large"),
    MalformedBody: (400, "Malformed body"),
    InvalidRequest: (422, "Invalid request"),
    InvalidArguments: (422, "Invalid tool arguments"),
    Blocked: (400, "Blocked by a guardrail"),
    LimitExceeded: (429, "Too many requests"),
    BudgetExhausted: (402, "Budget exhausted"),
    NoEligibleDeployment: (422, "No eligible model deployment"),
    ToolFailed: (502, "Tool failed"),
    ScannerFailed: (503, "Guardrail unavailable"),
    Killed: (503, "Switched off by an operator"),
    ToolKilled: (503, "Tool switched off by an operator"),
    BackendMalformed: (502, "Model backend answered with no completion stream"),
    BackendUnavailable: (503, "Model backend unavailable"),
    DeploymentFailed: (502, "Model backend failed"),
    IndexUnavailable: (503, "Runbook index unavailable"),
    InvalidQuery: (422, "Invalid search"),
    UnknownVersion: (404, "Index version not found"),
    PromoteRefused: (409, "Promote refused"),
    NothingToRollBack: (409, "Nothing to roll back"),
}

# DBAPIError: a lost connection becomes a 503 `store_unavailable`; any other database error stays a logged 500
DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    GatewayError,
    GuardrailError,
    RetrievalError,
    RoutingError,
    ToolError,
    DBAPIError,
)


def problem(status: int, title: str, code: str, detail: str, request_id: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
        **extra,
    }
    headers = {"x-request-id": request_id}
    if "retry_after" in extra:
        headers["retry-after"] = str(max(1, round(float(extra["retry_after"]) + 0.5)))
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def problem_for(exc: Exception, request_id: str) -> JSONResponse:
    """Map any exception to its problem response; unknown ones are a logged 500 without internals."""
    exc = as_domain_error(exc)
    for cls in type(exc).__mro__:
        if cls in STATUS:
            status, title = STATUS[cls]
            return problem(
                status,
                title,
                getattr(exc, "code", "error"),
                getattr(exc, "detail", str(exc)),
                request_id,
                **_extra(exc),
            )
    log.error("unhandled error in request %s: %s", request_id, type(exc).__name__, exc_info=exc)
    return problem(
        500, "Internal error", "internal_error", "an internal error occurred; see the gateway log", request_id
    )


def _extra(exc: Exception) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if isinstance(exc, LimitExceeded):
        extra["retry_after"] = round(exc.retry_after, 3)
    if isinstance(exc, BudgetExhausted):
        extra["resets_in"] = round(exc.resets_in)
    if isinstance(exc, InvalidRequest) and exc.errors:
        extra["errors"] = exc.errors
    if isinstance(exc, BackendUnavailable):
        extra["deployments"] = exc.deployments
    if isinstance(exc, GuardrailError) and exc.scanner:
        extra["scanner"] = exc.scanner
    return extra


def as_domain_error(exc: Exception) -> Exception:
    """The error a caller is told about: a lost database connection is `StoreUnavailable`; others are themselves."""
    if store_unreachable(exc):
        return StoreUnavailable("the state store is unreachable and this request needs it; retry shortly")
    return exc
