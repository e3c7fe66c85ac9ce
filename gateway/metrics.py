"""Prometheus metrics, on a registry of the app's own (so several apps can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["Metrics"]


@dataclass
class Metrics:
    """The gateway's counters and histograms."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("netops_requests_total", "HTTP requests", ["path", "status"], registry=r)
        self.latency = Histogram("netops_request_seconds", "HTTP request latency", ["path"], registry=r)
        self.tokens = Counter("netops_tokens_total", "Model tokens", ["tenant", "deployment", "kind"], registry=r)
        self.cost = Counter("netops_cost_usd_total", "Model spend in USD", ["tenant", "deployment"], registry=r)
        self.tool_calls = Counter("netops_tool_calls_total", "Tool calls", ["tool", "outcome"], registry=r)
        self.rejections = Counter("netops_rejections_total", "Rejected requests", ["code"], registry=r)
