"""The route table: deployments (where a model runs) and routes (the names tenants call).

Validated at start-up: a route naming an unknown deployment fails boot.

Example (netops.yaml):
    deployments:
      - {name: gpu-a, provider: hosted_vllm, model: meta-llama/Llama-3.1-8B-Instruct, base_url: http://gpu-a:8000/v1}
    routes:
      - {name: netops-assistant, deployments: [gpu-a]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from routing.errors import UnknownModel

__all__ = ["Deployment", "Route", "RouteTable"]


class Deployment(BaseModel):
    """One model backend reachable through litellm (OpenAI-compatible servers included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    provider: Literal["openai_compatible", "hosted_vllm", "openai", "anthropic"] = "openai_compatible"
    model: str
    base_url: str | None = None
    api_key: SecretStr = SecretStr("unused")
    timeout_s: float = Field(60.0, gt=0)
    input_price_per_1k: float = Field(0.0, ge=0)
    output_price_per_1k: float = Field(0.0, ge=0)
    context_window: int = Field(2048, ge=256)


class Route(BaseModel):
    """A model name a tenant can call, mapped to deployments in preference order (fallbacks after the first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    deployments: list[str] = Field(min_length=1)
    assistant: bool = True  # retrieval, tools and citations on; False: a guarded plain model
    max_tokens: int = Field(256, ge=1)


class RouteTable:
    """Looks up routes and their deployments."""

    def __init__(self, deployments: Sequence[Deployment], routes: Sequence[Route]) -> None:
        self.deployments = {d.name: d for d in deployments}
        self.routes = {r.name: r for r in routes}

    def route(self, name: str) -> Route:
        try:
            return self.routes[name]
        except KeyError:
            raise UnknownModel(f"no model named {name!r}; see GET /v1/models") from None

    def candidates(self, route: Route) -> list[Deployment]:
        """The route's deployments in the order to try them."""
        return [self.deployments[name] for name in route.deployments]
