"""The route table: deployments (where a model runs) and routes (the names tenants call), as versioned config.

Validated at start-up: a route naming an unknown deployment or fallback fails boot. The table's `version`
is a digest of its content, shown by `GET /v1/routing/status` and `netops routes show`, so an operator can
tell which configuration a replica runs.

Example (netops.yaml):
    deployments:
      - {name: gpu-a, provider: hosted_vllm, model: meta-llama/Llama-3.1-8B-Instruct,
         base_url: http://gpu-a:8000/v1, residency: self_hosted, quality: 6, max_concurrency: 32}
      - {name: claude, provider: anthropic, model: claude-sonnet-4, residency: hosted, quality: 9,
         input_price_per_1k: 0.003, output_price_per_1k: 0.015}
    routes:
      - {name: netops-assistant, deployments: [gpu-a, claude], policy: cheapest-meeting-latency,
         max_ttft_ms: 1500, strong_quality: 8}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from routing.errors import UnknownModel

__all__ = ["Deployment", "Policy", "Route", "RouteTable", "RoutingSettings"]

Policy = Literal["cheapest-meeting-latency", "fastest", "quality-first", "ordered"]


class Deployment(BaseModel):
    """One model backend reachable through litellm (OpenAI-compatible servers included).

    `residency` says where prompts go: `self_hosted` (our GPUs) or `hosted` (a third party); sensitive
    requests may only use `self_hosted` deployments. `quality` (1-10) is the operator's judgement of the
    model's strength, used by `quality-first` and for hard requests. `metrics_url` (vLLM `/metrics`)
    makes routing load-aware.
    """

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
    capabilities: frozenset[str] = frozenset({"chat"})
    residency: Literal["self_hosted", "hosted"] = "self_hosted"
    quality: int = Field(5, ge=1, le=10)
    max_concurrency: int = Field(64, ge=1)
    metrics_url: str | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of a call in USD."""
        return (prompt_tokens * self.input_price_per_1k + completion_tokens * self.output_price_per_1k) / 1000.0


class Route(BaseModel):
    """A model name a tenant can call: its deployments, the policy that orders them, and fallback routes.

    `max_ttft_ms` is the latency target of `cheapest-meeting-latency`; `strong_quality` is the quality a
    deployment needs to take a request classed as hard (weaker ones are tried after). `retries` is how
    many times one deployment is retried (with jitter) before the next is tried, always before the first byte.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    deployments: list[str] = Field(min_length=1)
    assistant: bool = True  # retrieval, tools and citations on; False: a guarded plain model
    max_tokens: int = Field(256, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)  # used when the request sets none
    policy: Policy = "ordered"
    fallbacks: list[str] = Field(default_factory=list)
    max_ttft_ms: float = Field(2000.0, gt=0)
    strong_quality: int = Field(8, ge=1, le=10)
    requires: frozenset[str] = frozenset({"chat"})
    retries: int = Field(1, ge=0, le=5)
    queue_timeout_s: float = Field(30.0, ge=0)  # how long to wait when every deployment is at max_concurrency


class RouteTable:
    """Looks up routes and their deployments; checks every reference once, at construction."""

    def __init__(self, deployments: Sequence[Deployment], routes: Sequence[Route]) -> None:
        self.deployments = {d.name: d for d in deployments}
        self.routes = {r.name: r for r in routes}
        for route in routes:
            _check(route, self.deployments, self.routes)
        digest = json.dumps(
            [[d.model_dump(mode="json") for d in deployments], [r.model_dump(mode="json") for r in routes]],
            sort_keys=True,
            default=sorted,
        )
        self.version = hashlib.sha256(digest.encode()).hexdigest()[:12]

    def route(self, name: str) -> Route:
        try:
            return self.routes[name]
        except KeyError:
            raise UnknownModel(f"no model named {name!r}; see GET /v1/models") from None

    def candidates(self, route: Route) -> list[Deployment]:
        """The route's deployments, then those of its fallback routes (each once), in configured order."""
        seen: dict[str, Deployment] = {}
        for r in [route, *(self.routes[f] for f in route.fallbacks)]:
            for name in r.deployments:
                seen.setdefault(name, self.deployments[name])
        return list(seen.values())


def _check(route: Route, deployments: dict[str, Deployment], routes: dict[str, Route]) -> None:
    unknown = [d for d in route.deployments if d not in deployments]
    if unknown:
        raise ValueError(f"route {route.name!r} names unknown deployments {unknown}")
    missing = [f for f in route.fallbacks if f not in routes or f == route.name]
    if missing:
        raise ValueError(f"route {route.name!r} names unknown (or itself as) fallback routes {missing}")
    for name in route.deployments:
        lacking = route.requires - deployments[name].capabilities
        if lacking:
            raise ValueError(f"route {route.name!r}: deployment {name!r} lacks capabilities {sorted(lacking)}")


class RoutingSettings(BaseModel):
    """Breakers, load scraping and the shared limits' key prefix (`routing:` in netops.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(3, ge=1)
    cooldown_s: float = Field(5.0, gt=0)
    max_cooldown_s: float = Field(60.0, gt=0)
    scrape_interval_s: float = Field(5.0, gt=0)
    limits_prefix: str = "netops:limits"
    # while Redis is unreachable, each process may use this share of every limit (and of what each budget has
    # left): at most 1 / (replicas x workers) keeps them within the limit together (routing.fallback_limits)
    limits_fallback_share: float = Field(0.25, gt=0, le=1)
