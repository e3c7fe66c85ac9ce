"""`netops bench routing`: router decision overhead per request, and failover time after a backend dies.

- overhead: `Router.plan` (classify + policy over live signals) and a full `Router.open` + drain against an
  instant in-memory backend (a `ModelBackend` of ours), so the time measured is the router's own.
- failover: requests run back to back over a route [victim, survivor] of real servers; the victim is killed
  (`kill()`), and we time from the kill to the first request answered by the survivor, and to the first
  request that *started* after the kill and was answered (the client-visible reroute).

Example:
    report = overhead(iterations=2000)
    print(report)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass

from routing.backend import LiteLLMBackend, ModelEvent, ModelRequest, StreamEnd, TextDelta
from routing.breaker import BreakerConfig
from routing.errors import RoutingError
from routing.router import Router
from routing.signals import VllmLoad
from routing.table import Deployment, Route, RouteTable

__all__ = ["FailoverReport", "OverheadReport", "failover", "overhead"]


@dataclass(frozen=True, slots=True)
class OverheadReport:
    iterations: int
    plan_p50_us: float
    plan_p99_us: float
    open_p50_us: float
    open_p99_us: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FailoverReport:
    trials: int
    first_reroute_s: list[float]  # kill -> first answer from the survivor
    first_new_request_s: list[float]  # kill -> first request started after the kill and answered
    survivor_answer_s: list[float]  # how long the survivor itself takes per answer (the floor of the above)
    failed_requests: int
    requests: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _Instant:
    """A backend that answers at once: isolates the router's cost."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        yield TextDelta("ok")
        yield StreamEnd("stop", 10, 1)


def _table() -> tuple[RouteTable, Route]:
    deployments = [
        Deployment(name=f"gpu-{i}", model="m", base_url=f"http://gpu-{i}/v1", input_price_per_1k=i * 0.001)
        for i in range(4)
    ]
    route = Route(name="bench", deployments=[d.name for d in deployments], policy="cheapest-meeting-latency")
    return RouteTable(deployments, [route]), route


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def overhead(iterations: int = 2000) -> OverheadReport:
    """Per-request router overhead, in microseconds."""
    table, route = _table()
    router = Router(table, _Instant())
    for i, name in enumerate(table.deployments):
        stats = router.health[name].stats
        for _ in range(50):
            stats.started()
            stats.first_token(0.05 + 0.01 * i)
            stats.finished(0.5, ok=True)
        stats.load = VllmLoad(waiting=i, running=2, kv_cache_usage=0.3, kv_metric="vllm:kv_cache_usage_perc")
    request = ModelRequest(
        messages=[{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "BGP is down " * 20}],
        max_tokens=64,
    )
    plans = []
    for _ in range(iterations):
        t = time.perf_counter()
        router.plan(route, request)
        plans.append((time.perf_counter() - t) * 1e6)
    opens = asyncio.run(_opens(router, route, request, iterations))
    return OverheadReport(iterations, _pct(plans, 0.5), _pct(plans, 0.99), _pct(opens, 0.5), _pct(opens, 0.99))


async def _opens(router: Router, route: Route, request: ModelRequest, iterations: int) -> list[float]:
    out = []
    for _ in range(iterations):
        t = time.perf_counter()
        stream = await router.open(route, request)
        async for _event in stream:
            pass
        out.append((time.perf_counter() - t) * 1e6)
    return out


def failover(
    victim_url: str, survivor_url: str, kill: Callable[[], None], wait_back: Callable[[], None], *, trials: int = 3
) -> FailoverReport:
    """Kill the victim `trials` times mid-load; `wait_back` blocks until it serves again."""
    deployments = [
        Deployment(name="victim", model="smollm2-135m-instruct", base_url=victim_url, max_concurrency=1),
        Deployment(name="survivor", model="smollm2-135m-instruct", base_url=survivor_url, max_concurrency=1),
    ]
    route = Route(name="ha", deployments=["victim", "survivor"], assistant=False, max_tokens=8, retries=0)
    router = Router(
        RouteTable(deployments, [route]),
        LiteLLMBackend(),
        breaker=BreakerConfig(failure_threshold=2, cooldown_s=1.0, max_cooldown_s=4.0),
    )
    return asyncio.run(_trials(router, route, kill, wait_back, trials))


async def _trials(
    router: Router, route: Route, kill: Callable[[], None], wait_back: Callable[[], None], trials: int
) -> FailoverReport:
    """All trials on one event loop (litellm caches its HTTP clients per loop)."""
    reroute, new, survivor, failed, total = [], [], [], 0, 0
    for _ in range(trials):
        r, n, own, f, t = await asyncio.wait_for(_one_trial(router, route, kill), timeout=180)
        reroute.append(r)
        new.append(n)
        survivor.extend(own)
        failed, total = failed + f, total + t
        await asyncio.to_thread(wait_back)
    return FailoverReport(trials, reroute, new, survivor, failed, total)


async def _one_trial(
    router: Router, route: Route, kill: Callable[[], None]
) -> tuple[float, float, list[float], int, int]:
    request = ModelRequest(messages=[{"role": "user", "content": "Name one routing protocol."}], max_tokens=8)
    killed_at: float | None = None
    first_reroute = first_new = None
    failed = total = served_by_victim = 0
    survivor: list[float] = []
    while first_new is None or len(survivor) < 3:  # ...or until the restarted victim takes traffic again
        started = time.perf_counter()
        try:
            stream = await router.open(route, request, buffered=True)
            async for _event in stream:
                pass
        except RoutingError:
            failed += 1
            continue
        finally:
            total += 1
        done = time.perf_counter()
        if killed_at is None:
            served_by_victim += stream.deployment.name == "victim"
            if served_by_victim >= 3:
                await asyncio.to_thread(kill)
                killed_at = time.perf_counter()
            continue
        if first_new is not None and stream.deployment.name == "victim":
            break
        if stream.deployment.name == "survivor":
            if first_reroute is not None and first_new is not None:
                survivor.append(done - started)
            first_reroute = first_reroute if first_reroute is not None else done - killed_at
            if started >= killed_at and first_new is None:
                first_new = done - killed_at
    assert first_reroute is not None and first_new is not None
    return first_reroute, first_new, survivor, failed, total


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
    )
