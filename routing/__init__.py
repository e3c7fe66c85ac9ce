"""Model routing: the route table, policies over live signals, breakers and failover, limits and budgets.

`routing.redis_limits` (the only `redis` importer) is imported on demand, not here.
"""

from routing.backend import LiteLLMBackend, ModelBackend, ModelRequest, StreamEnd, TextDelta, ToolCall
from routing.breaker import BreakerConfig, BreakerState, CircuitBreaker
from routing.classify import RequestClass, classify
from routing.errors import (
    BackendMalformed,
    BackendUnavailable,
    BudgetExhausted,
    DeploymentFailed,
    LimitExceeded,
    NoEligibleDeployment,
    RoutingError,
    UnknownModel,
)
from routing.limits import InProcessLimits, LimitStore, Quota, Reservation
from routing.openai_http import OpenAIHTTPBackend, ProviderBackend
from routing.policy import POLICIES, Decision, register_policy
from routing.router import RoutedStream, Router
from routing.table import Deployment, Route, RouteTable, RoutingSettings

__all__ = [
    "POLICIES",
    "BackendMalformed",
    "BackendUnavailable",
    "BreakerConfig",
    "BreakerState",
    "BudgetExhausted",
    "CircuitBreaker",
    "Decision",
    "Deployment",
    "DeploymentFailed",
    "InProcessLimits",
    "LimitExceeded",
    "LimitStore",
    "LiteLLMBackend",
    "ModelBackend",
    "ModelRequest",
    "NoEligibleDeployment",
    "OpenAIHTTPBackend",
    "ProviderBackend",
    "Quota",
    "RequestClass",
    "Reservation",
    "Route",
    "RouteTable",
    "RoutedStream",
    "Router",
    "RoutingError",
    "RoutingSettings",
    "StreamEnd",
    "TextDelta",
    "ToolCall",
    "UnknownModel",
    "classify",
    "register_policy",
]
