"""Prometheus metrics, on a registry of the app's own (so several apps can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["STEP_BUCKETS", "Metrics"]

STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Metrics:
    """The gateway's counters and histograms."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("netops_requests_total", "HTTP requests", ["path", "status"], registry=r)
        self.latency = Histogram("netops_request_seconds", "HTTP request latency", ["path"], registry=r)
        self.steps = Histogram(
            "netops_step_seconds",
            "Time per request in each step (guard.input, retrieval, model, tools, audit, gateway, ...)",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.store_down = Gauge(
            "netops_store_down_seconds", "How long the state store has been unreachable (0: it answers)", registry=r
        )
        self.limits_down = Gauge(
            "netops_limits_down_seconds", "How long Redis (the shared limits) has been unreachable", registry=r
        )
        self.audit_spooled = Gauge(
            "netops_audit_spooled", "Audit records in this process's spool, waiting for the store", registry=r
        )
        self.index_age = Gauge(
            "netops_index_age_seconds", "Age of the live runbook index version (set by each /readyz probe)", registry=r
        )
        self.index_stale = Gauge(
            "netops_index_stale",
            "1 when the live index version is stale: its sources drifted or it is over retrieval.max_index_age_s",
            registry=r,
        )
        self.index_drift = Gauge(
            "netops_index_drift_files",
            "Files under the configured sources added, changed or removed since the live version was built",
            ["change"],
            registry=r,
        )
        self.tokens = Counter("netops_tokens_total", "Model tokens", ["tenant", "deployment", "kind"], registry=r)
        self.cost = Counter("netops_cost_usd_total", "Model spend in USD", ["tenant", "deployment"], registry=r)
        self.tool_calls = Counter("netops_tool_calls_total", "Tool calls", ["tool", "outcome"], registry=r)
        self.rejections = Counter("netops_rejections_total", "Rejected requests", ["code"], registry=r)
        self.answers = Counter(
            "netops_answers_total",
            "Successful chat answers (cost per answer: netops_answer_cost_usd_total / this)",
            ["tenant", "route", "deployment", "cache"],
            registry=r,
        )
        self.answer_cost = Counter(
            "netops_answer_cost_usd_total",
            "Model spend of successful answers",
            ["tenant", "route", "deployment"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "netops_cache_lookups_total",
            "Cache lookups by cache and result (hit, miss, bypass)",
            ["cache", "result"],
            registry=r,
        )
        self.cache_stores = Counter("netops_cache_stores_total", "Entries stored per cache", ["cache"], registry=r)
        self.cache_entries = Gauge("netops_cache_entries", "Entries held per cache", ["cache"], registry=r)
        self.cache_saved = Counter(
            "netops_cache_saved_usd_total", "Model spend saved by response cache hits", ["tenant"], registry=r
        )
        self.degraded = Counter(
            "netops_degraded_answers_total",
            "Answers not served by the route's first working choice",
            ["route", "from_deployment", "to_deployment"],
            registry=r,
        )
