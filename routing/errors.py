"""Routing exceptions.

RoutingError
 +-- UnknownModel         the requested model names no route
 +-- BackendUnavailable   every deployment of the route failed (names the ones tried)
 +-- DeploymentFailed     one deployment failed (the router then tries the next)
"""

from __future__ import annotations

__all__ = ["BackendUnavailable", "DeploymentFailed", "RoutingError", "UnknownModel"]


class RoutingError(Exception):
    """Base of every routing error; `code` is the stable machine-readable error code."""

    code = "routing_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownModel(RoutingError):
    """No route has this name."""

    code = "model_not_found"


class BackendUnavailable(RoutingError):
    """No deployment of the route answered."""

    code = "backend_unavailable"

    def __init__(self, detail: str, *, deployments: list[str]) -> None:
        super().__init__(detail)
        self.deployments = deployments


class DeploymentFailed(RoutingError):
    """One deployment failed (connection, timeout, server error); raised by a backend."""

    code = "deployment_failed"

    def __init__(self, detail: str, *, deployment: str) -> None:
        super().__init__(detail)
        self.deployment = deployment
