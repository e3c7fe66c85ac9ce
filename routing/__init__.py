"""Model routing: the route table, the litellm backend edge, and failover across deployments."""

from routing.backend import LiteLLMBackend, ModelBackend, ModelRequest, StreamEnd, TextDelta, ToolCall
from routing.errors import BackendUnavailable, DeploymentFailed, RoutingError, UnknownModel
from routing.router import RoutedStream, Router
from routing.table import Deployment, Route, RouteTable

__all__ = [
    "BackendUnavailable",
    "Deployment",
    "DeploymentFailed",
    "LiteLLMBackend",
    "ModelBackend",
    "ModelRequest",
    "Route",
    "RouteTable",
    "RoutedStream",
    "Router",
    "RoutingError",
    "StreamEnd",
    "TextDelta",
    "ToolCall",
    "UnknownModel",
]
