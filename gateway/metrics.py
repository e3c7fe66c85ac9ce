"""Prometheus metrics, on a registry of the app's own (so several apps can live in one process).

With `netops serve --workers N` the parent sets `PROMETHEUS_MULTIPROC_DIR` before the workers are spawned: each
worker's values go to memory-mapped files there (prometheus_client's multiprocess mode) and a scrape, answered by
any worker, sums every worker's counters and histograms. Gauges say how they combine (`multiprocess_mode`: the
largest outage, the sum of per-process spools and cache sizes, the most recent index probe); the ones read from
a function (`Metrics.poll`) are copied into the files every second and at each scrape. Files of workers that are
gone are forgotten for the live gauges (their counters still count).

Example:
    metrics = Metrics()
    metrics.poll(metrics.store_down, health.down_for)
    body = metrics.exposition()
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["MULTIPROC_DIR", "STEP_BUCKETS", "Metrics"]

STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# read once, as prometheus_client does when it is first imported: the mode is fixed for the process's life
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
POLL_S = 1.0


@dataclass
class Metrics:
    """The gateway's counters and histograms."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _polled: list[tuple[Gauge, Callable[[], float]]] = field(default_factory=list)
    _poller: threading.Thread | None = None

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
            "netops_store_down_seconds",
            "How long the state store has been unreachable (0: it answers)",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.limits_down = Gauge(
            "netops_limits_down_seconds",
            "How long Redis (the shared limits) has been unreachable",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.audit_spooled = Gauge(
            "netops_audit_spooled",
            "Audit records in the spools of this gateway's processes, waiting for the store",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.index_age = Gauge(
            "netops_index_age_seconds",
            "Age of the live runbook index version (set by each /readyz probe)",
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.index_stale = Gauge(
            "netops_index_stale",
            "1 when the live index version is stale: its sources drifted or it is over retrieval.max_index_age_s",
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.index_drift = Gauge(
            "netops_index_drift_files",
            "Files under the configured sources added, changed or removed since the live version was built",
            ["change"],
            multiprocess_mode="livemostrecent",
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
        self.cache_entries = Gauge(
            "netops_cache_entries", "Entries held per cache", ["cache"], multiprocess_mode="livesum", registry=r
        )
        self.cache_saved = Counter(
            "netops_cache_saved_usd_total", "Model spend saved by response cache hits", ["tenant"], registry=r
        )
        self.degraded = Counter(
            "netops_degraded_answers_total",
            "Answers not served by the route's first working choice",
            ["route", "from_deployment", "to_deployment"],
            registry=r,
        )

    def poll(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """`gauge` reads its value from `read`: at each scrape in one process; with workers, every second (and
        at each scrape) into the shared files, so every worker's value is in every scrape."""
        if MULTIPROC_DIR is None:
            gauge.set_function(read)
            return
        self._polled.append((gauge, read))
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_forever, name="metrics-poll", daemon=True)
            self._poller.start()

    def exposition(self) -> bytes:
        """The text format a scrape gets: this registry, or with workers every live worker's values combined."""
        if MULTIPROC_DIR is None:
            return generate_latest(self.registry)
        self._copy_polled()
        _forget_dead_workers(MULTIPROC_DIR)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=MULTIPROC_DIR)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    def _poll_forever(self) -> None:
        while True:
            self._copy_polled()
            time.sleep(POLL_S)

    def _copy_polled(self) -> None:
        for gauge, read in list(self._polled):
            gauge.set(read())


def _forget_dead_workers(path: str) -> None:
    """Drop the live-gauge files of processes that are gone (a worker uvicorn replaced, or one that crashed)."""
    pids = {os.path.basename(f).rsplit("_", 1)[-1].removesuffix(".db") for f in glob.glob(f"{path}/gauge_live*_*.db")}
    for pid in pids:
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
