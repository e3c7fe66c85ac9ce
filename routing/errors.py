"""Routing exceptions.

RoutingError
 +-- UnknownModel            the requested model names no route
 +-- BackendUnavailable      every eligible deployment of the route failed or is open (names them, and why)
 +-- NoEligibleDeployment    no deployment of the route may take this request (e.g. it must stay self-hosted)
 +-- DeploymentFailed        one deployment failed (the router then retries or tries the next)
 +-- LimitExceeded           the tenant is over requests/min or tokens/min (429, carries retry_after)
 +-- BudgetExhausted         the tenant's spend or token budget for the period is used up (402)
"""

from __future__ import annotations

__all__ = [
    "BackendMalformed",
    "BackendUnavailable",
    "BudgetExhausted",
    "DeploymentFailed",
    "LimitExceeded",
    "NoEligibleDeployment",
    "RoutingError",
    "UnknownModel",
]


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


class BackendMalformed(BackendUnavailable):
    """Every deployment tried answered, but not with a chat completion stream (a JSON body, a cut stream)."""

    code = "backend_malformed"


class NoEligibleDeployment(RoutingError):
    """The route has no deployment this request may use (residency or capability policy)."""

    code = "no_eligible_deployment"


class DeploymentFailed(RoutingError):
    """One deployment failed (connection, timeout, server error); raised by a backend."""

    code = "deployment_failed"

    def __init__(self, detail: str, *, deployment: str, malformed: bool = False) -> None:
        super().__init__(detail)
        self.deployment = deployment
        self.malformed = malformed  # it answered, but not with a chat completion stream


class LimitExceeded(RoutingError):
    """Over requests/min (`code` rate_limited) or tokens/min (`code` token_rate_limited); retry later."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float, code: str = "rate_limited") -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.code = code


class BudgetExhausted(RoutingError):
    """The tenant's budget for the period is spent; `resets_in` seconds until the next period."""

    code = "budget_exhausted"

    def __init__(self, detail: str, *, resets_in: float) -> None:
        super().__init__(detail)
        self.resets_in = resets_in
