"""The OpenAPI document: request bodies, success bodies and problem+json responses, from the same pydantic
models the handlers validate with.

Handlers read their bodies with `deps.read_body` (authentication comes first), so FastAPI cannot see them;
`body(Model)` declares one for the document, `responses(Model, 401, 422)` the answers, and `install(app)`
puts every model referred to into `components.schemas`.

Example:
    @router.post("/v1/guardrails/scan", openapi_extra=body(ScanRequest), responses=responses(ScanResponse, 422))
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

__all__ = ["Problem", "body", "install", "responses"]

_REF = "#/components/schemas/{model}"
_MODELS: dict[str, type[BaseModel]] = {}


class Problem(BaseModel):
    """An RFC 9457 problem: every error the gateway returns, with a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable error code, e.g. unknown_key, budget_exhausted")
    request_id: str
    errors: list[dict[str, Any]] | None = None
    retry_after: float | None = None


_TITLES = {
    400: "Malformed body (invalid UTF-8 or JSON nested too deeply)",
    401: "Missing, unknown or revoked API key",
    402: "Budget exhausted",
    403: "Role, model or tool not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Request too large",
    422: "Invalid request (fields named in `errors`)",
    429: "Rate or token limit (see retry-after)",
    502: "Model backend or tool failed",
    503: "Guardrail, model backend or index unavailable",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _MODELS[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose handler reads `model` from a JSON body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": _ref(model)}}}}


def responses(model: type[BaseModel] | None, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its success body and its problem statuses (401 is always possible)."""
    out: dict[int | str, dict[str, Any]] = {}
    if model is not None:
        out[200] = {"description": "OK", "content": {"application/json": {"schema": _ref(model)}}}
    for status in sorted({401, *statuses}):
        out[status] = {
            "description": _TITLES.get(status, "Problem"),
            "content": {"application/problem+json": {"schema": _ref(Problem)}},
        }
    return out


def install(app: FastAPI) -> None:
    """Make `app.openapi()` include every model named by `body` and `responses`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, model in sorted(_MODELS.items()):
                schema = model.model_json_schema(ref_template=_REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[name] = schema
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
