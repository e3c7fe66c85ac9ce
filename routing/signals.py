"""Live signals per deployment: latency (TTFT and total, rolling p50/p95), error rate, in-flight, vLLM load.

`DeploymentStats` is fed by the router on every attempt; `VllmLoad` comes from a deployment's `/metrics`
page (`vllm:num_requests_waiting`, `vllm:num_requests_running`, `vllm:kv_cache_usage_perc`, falling back
to the older `vllm:gpu_cache_usage_perc`). Values are summed over engines (waiting, running) or the
maximum is taken (cache usage). Deliberately left out: time-decayed windows (a fixed-size ring is enough).

Example:
    stats = DeploymentStats()
    stats.started(); stats.first_token(0.21); stats.finished(0.9, ok=True)
    stats.snapshot().ttft_p95_ms
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from routing.promtext import parse_prometheus_text

__all__ = ["DeploymentStats", "StatsSnapshot", "VllmLoad", "percentile", "vllm_load"]


@dataclass(frozen=True, slots=True)
class VllmLoad:
    """A vLLM server's queue and KV-cache state, from one scrape."""

    waiting: float
    running: float
    kv_cache_usage: float | None
    kv_metric: str | None  # which metric the cache usage came from


def vllm_load(text: str) -> VllmLoad:
    """Read a vLLM `/metrics` page; raises `MetricsParseError` if it is not exposition text."""
    samples = parse_prometheus_text(text)

    def values(name: str) -> list[float]:
        return [s.value for s in samples if s.name == name]

    kv_metric: str | None = None
    kv: float | None = None
    for name in ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"):
        found = values(name)
        if found:
            kv, kv_metric = max(found), name
            break
    return VllmLoad(sum(values("vllm:num_requests_waiting")), sum(values("vllm:num_requests_running")), kv, kv_metric)


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """What routing and the status page see of a deployment at one moment."""

    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    total_p50_ms: float | None
    total_p95_ms: float | None
    error_rate: float
    in_flight: int
    samples: int
    load: VllmLoad | None = None

    def as_dict(self) -> dict[str, object]:
        load = None
        if self.load is not None:
            load = {
                "waiting": self.load.waiting,
                "running": self.load.running,
                "kv_cache_usage": self.load.kv_cache_usage,
                "kv_metric": self.load.kv_metric,
            }
        return {
            "ttft_p50_ms": _round(self.ttft_p50_ms),
            "ttft_p95_ms": _round(self.ttft_p95_ms),
            "total_p50_ms": _round(self.total_p50_ms),
            "total_p95_ms": _round(self.total_p95_ms),
            "error_rate": round(self.error_rate, 3),
            "in_flight": self.in_flight,
            "samples": self.samples,
            "vllm": load,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class DeploymentStats:
    """Rolling windows of one deployment's outcomes; thread-safe."""

    def __init__(self, window: int = 200) -> None:
        self._ttft: deque[float] = deque(maxlen=window)
        self._total: deque[float] = deque(maxlen=window)
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._in_flight = 0
        self._lock = threading.Lock()
        self.load: VllmLoad | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def first_token(self, seconds: float) -> None:
        with self._lock:
            self._ttft.append(seconds * 1000.0)

    def finished(self, seconds: float, *, ok: bool) -> None:
        """An attempt ended (`ok` False on error or timeout); releases its in-flight slot."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._outcomes.append(ok)
            if ok:
                self._total.append(seconds * 1000.0)

    def abandoned(self) -> None:
        """An attempt was cancelled before any outcome: release its in-flight slot only."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            ttft, total, outcomes = list(self._ttft), list(self._total), list(self._outcomes)
            in_flight = self._in_flight
        errors = sum(1 for ok in outcomes if not ok)
        return StatsSnapshot(
            percentile(ttft, 0.5),
            percentile(ttft, 0.95),
            percentile(total, 0.5),
            percentile(total, 0.95),
            errors / len(outcomes) if outcomes else 0.0,
            in_flight,
            len(outcomes),
            self.load,
        )
