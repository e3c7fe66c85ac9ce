"""Gateway exceptions: authentication, tenancy and request validation.

    GatewayError
     +-- Unauthenticated     missing, unknown or revoked API key (401)
     +-- ModelNotAllowed     the tenant may not use this model (403)
     +-- Forbidden           the key's role may not do this (403; e.g. an admin-only endpoint)
     +-- MalformedBody       the body is not decodable: invalid UTF-8, nested too deeply (400)
     +-- InvalidRequest      the body is not a valid request (422, names the field)
     +-- NotFound            a named resource does not exist (404)
     +-- Conflict            a named resource already exists (409)
     +-- StoreUnavailable    the state store is unreachable and this request cannot be decided without it (503)

Errors from guardrails, retrieval, routing and tools are mapped to HTTP in `gateway.problems`.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "GatewayError",
    "InvalidRequest",
    "MalformedBody",
    "ModelNotAllowed",
    "NotFound",
    "StoreUnavailable",
    "Unauthenticated",
]


class GatewayError(Exception):
    """Base of every gateway error; `code` is the stable machine-readable error code."""

    code = "gateway_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthenticated(GatewayError):
    """No valid API key. `code` is `unknown_key`, `revoked_key`, `missing_key` or `bad_scrape_token`."""

    code = "unknown_key"

    def __init__(self, detail: str, *, code: str = "unknown_key") -> None:
        super().__init__(detail)
        self.code = code


class ModelNotAllowed(GatewayError):
    """The tenant's policy does not allow this model."""

    code = "model_not_allowed"


class Forbidden(GatewayError):
    """The key is valid but its role does not allow this operation."""

    code = "forbidden"


class MalformedBody(GatewayError):
    """The body cannot be read as JSON at all. `code` is `invalid_encoding`, `invalid_unicode` or
    `too_deeply_nested`."""

    code = "malformed_body"

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.code = code


class InvalidRequest(GatewayError):
    """The request body does not validate."""

    code = "invalid_request"

    def __init__(self, detail: str, *, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class NotFound(GatewayError):
    """The named tenant, key or resource does not exist."""

    code = "not_found"


class Conflict(GatewayError):
    """The named resource already exists."""

    code = "conflict"


class StoreUnavailable(GatewayError):
    """The state store (PostgreSQL or SQLite) is unreachable and the request needs it: a key this process has not
    seen, a change (keys, tenants, config), an approval. What a snapshot can decide is served meanwhile."""

    code = "store_unavailable"
