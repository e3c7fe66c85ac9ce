"""Choosing a deployment for a route, failing over before the first byte, and keeping live signals.

`Router.open` classes the request, asks the route's policy for an order (`routing.policy.decide`), and
tries deployments in that order: a deployment whose breaker is open, or which is full, is skipped; a
failure before the first event is retried on the same deployment with jittered backoff (`route.retries`
times) and then the next deployment is tried. Once a stream has started, a failure ends it (retrying would
duplicate output) -- unless the caller asked for a `buffered` stream (a non-streaming client): then the
whole answer is read before anything is returned, so any failure is still "before the first byte".

Example:
    router = Router(table, backend)
    stream = await router.open(table.route("netops-assistant"), request)
    stream.deployment.name, stream.decision.explain()
    async for event in stream: ...
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from routing.backend import ModelBackend, ModelEvent, ModelRequest, StreamEnd
from routing.breaker import BreakerConfig, BreakerState, CircuitBreaker
from routing.classify import RequestClass, classify
from routing.errors import BackendMalformed, BackendUnavailable, DeploymentFailed, NoEligibleDeployment
from routing.policy import Candidate, Decision, decide
from routing.scrape import LoadScraper
from routing.signals import DeploymentStats
from routing.table import Deployment, Route, RouteTable

__all__ = ["DeploymentHealth", "RoutedStream", "Router", "estimate_prompt_tokens"]


def estimate_prompt_tokens(request: ModelRequest) -> int:
    """A typical-case estimate (4 characters a token) for ranking; budgets use an upper bound instead."""
    chars = sum(len(str(m.get("content") or "")) for m in request.messages)
    return chars // 4 + 8 * len(request.messages)


@dataclass
class DeploymentHealth:
    """One deployment's live signals and breaker."""

    stats: DeploymentStats
    breaker: CircuitBreaker


class RoutedStream:
    """A started stream from the deployment that answered; feeds that deployment's signals as it goes."""

    def __init__(
        self,
        deployment: Deployment,
        decision: Decision,
        first: ModelEvent,
        rest: AsyncIterator[ModelEvent],
        health: DeploymentHealth,
        started: float,
    ) -> None:
        self.deployment = deployment
        self.decision = decision
        self.attempts: list[str] = []  # the failures before this stream started (empty: first choice answered)
        self.own: list[str] = [deployment.name]  # the route's own deployments (the rest are its fallbacks')
        self.drained: list[str] = []  # the route's deployments switched off when it started
        self._first: ModelEvent | None = first
        self._rest = rest
        self._health = health
        self._started = started

    def __aiter__(self) -> AsyncIterator[ModelEvent]:
        return self._events()

    def degraded(self) -> dict[str, str] | None:
        """`{from, to, reason}` when this answer did not come from the route's first working choice: an earlier
        deployment failed (or its breaker was open), or a fallback route's deployment served it."""
        if self.attempts:
            first = self.attempts[0]
            return {"from": first.split(":", 1)[0], "to": self.deployment.name, "reason": first.split(": ", 1)[-1]}
        if self.drained:
            return {"from": ", ".join(self.drained), "to": self.deployment.name, "reason": "switched off (drained)"}
        if self.deployment.name not in self.own:
            return {"from": ", ".join(self.own), "to": self.deployment.name, "reason": "served by a fallback route"}
        return None

    def summary(self) -> dict[str, object]:
        """What the audit record keeps of the routing decision (no prompt text)."""
        k = self.decision.klass
        return {
            "policy": self.decision.policy,
            "class": k.difficulty,
            "sensitive": k.sensitive,
            "order": list(self.decision.order),
            "failed_attempts": self.attempts,
            "degraded": self.degraded(),
        }

    async def _events(self) -> AsyncIterator[ModelEvent]:
        ok = False
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
                ok = isinstance(first, StreamEnd)
            async for event in self._rest:
                yield event
                ok = isinstance(event, StreamEnd)
        except DeploymentFailed as exc:
            self._health.breaker.record_failure(f"mid-stream: {exc.detail}")
            raise
        finally:
            self._health.stats.finished(time.perf_counter() - self._started, ok=ok)


class Router:
    """Routes requests over the table's deployments by policy, health and load."""

    def __init__(
        self,
        table: RouteTable,
        backend: ModelBackend,
        *,
        breaker: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        scrape_interval_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._backend = backend
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not cryptography
        self._breaker, self._clock, self._scrape_interval_s = breaker, clock, scrape_interval_s
        self.health: dict[str, DeploymentHealth] = {}
        self.killed: dict[str, str] = {}  # deployments switched off (drained): name -> reason (gateway.kills)
        self.use(table)

    def use(self, table: RouteTable) -> None:
        """Route by `table` from now on (a new configuration version, applied at runtime): deployments it keeps
        keep their signals and breakers; in-flight requests finish on the table they started with."""
        self.know(table)
        self.scraper = LoadScraper(
            {n: d.metrics_url for n, d in table.deployments.items() if d.metrics_url},
            {n: self.health[n].stats for n in table.deployments},
            interval_s=self._scrape_interval_s,
            clock=self._clock,
        )
        self.table = table

    def know(self, table: RouteTable) -> None:
        """Give `table`'s deployments signals and breakers without routing by it (a rollout's candidate table)."""
        for name in table.deployments:
            if name not in self.health:
                breaker = CircuitBreaker(self._breaker, clock=self._clock)
                self.health[name] = DeploymentHealth(DeploymentStats(), breaker)

    async def aclose(self) -> None:
        """Close the backend's connection pool for the running event loop (backends without one: nothing)."""
        aclose = getattr(self._backend, "aclose", None)
        if aclose is not None:
            await aclose()

    def plan(
        self,
        route: Route,
        request: ModelRequest,
        klass: RequestClass | None = None,
        *,
        table: RouteTable | None = None,
    ) -> Decision:
        """The order this request would be tried in now, and why (no side effects); `table`: a rollout's
        candidate table instead of the one in force."""
        candidates = [
            Candidate(d, self.health[d.name].stats.snapshot(), self.health[d.name].breaker.snapshot(), i)
            for i, d in enumerate((table or self.table).candidates(route))
            if d.name not in self.killed  # drained: in-flight requests finish, new ones go elsewhere
        ]
        klass = klass or classify(request.messages)
        return decide(route, candidates, klass, prompt_tokens=estimate_prompt_tokens(request))

    async def open(
        self, route: Route, request: ModelRequest, *, buffered: bool = False, table: RouteTable | None = None
    ) -> RoutedStream:
        """Start the request on the best deployment that answers; raises `BackendUnavailable` if none does.
        `table`: a rollout's candidate table instead of the one in force (see `know`)."""
        self.scraper.poke()
        table = table or self.table
        live = [d.name for d in table.candidates(route) if d.name not in self.killed]
        if not live:
            switched = "; ".join(f"{n}: {self.killed[n]}" for n in route.deployments if n in self.killed)
            raise BackendUnavailable(
                f"every deployment of {route.name!r} is switched off ({switched})", deployments=list(route.deployments)
            )
        deadline = time.monotonic() + route.queue_timeout_s
        while True:
            decision = self.plan(route, request, table=table)
            if not decision.order:
                why = "; ".join(f"{c.deployment}: {c.reasons[0]}" for c in decision.choices)
                raise NoEligibleDeployment(f"no deployment of {route.name!r} may take this request ({why})")
            failures: list[str] = []
            malformed: list[str] = []
            for name in decision.order:
                stream = await self._try(
                    table.deployments[name], route, request, decision, (failures, malformed), buffered
                )
                if stream is not None:
                    stream.attempts = failures
                    stream.own = route.deployments
                    stream.drained = [n for n in route.deployments if n in self.killed]
                    return stream
            if malformed and len(malformed) == len(failures):  # they answered, with something else: a 502
                raise BackendMalformed(
                    f"no deployment of {route.name!r} answered with a completion stream: {'; '.join(failures)}",
                    deployments=list(decision.order),
                )
            if not _worth_waiting(failures) or time.monotonic() >= deadline:
                raise BackendUnavailable(
                    f"no deployment of {route.name!r} answered: {'; '.join(failures)}",
                    deployments=list(decision.order),
                )
            await asyncio.sleep(0.01)  # a deployment was full or being probed: wait for a slot or the verdict

    async def _try(
        self,
        deployment: Deployment,
        route: Route,
        request: ModelRequest,
        decision: Decision,
        log: tuple[list[str], list[str]],
        buffered: bool,
    ) -> RoutedStream | None:
        failures = log[0]
        health = self.health[deployment.name]
        for attempt in range(route.retries + 1):
            if not health.breaker.allow():
                # not open: half-open with its one probe in flight (or just closed by it): wait for the verdict
                probing = health.breaker.state is not BreakerState.OPEN
                failures.append(f"{deployment.name}: {'probing' if probing else 'breaker open'}")
                return None
            if health.stats.in_flight >= deployment.max_concurrency:
                health.breaker.release()
                failures.append(f"{deployment.name}: full")
                return None
            if attempt:
                await asyncio.sleep(self._rng.uniform(0, 0.05 * 2**attempt))  # jitter, before any byte
            stream = await self._attempt(deployment, request, decision, health, log, buffered)
            if stream is not None:
                return stream
        return None

    async def _attempt(
        self,
        deployment: Deployment,
        request: ModelRequest,
        decision: Decision,
        health: DeploymentHealth,
        log: tuple[list[str], list[str]],
        buffered: bool,
    ) -> RoutedStream | None:
        """One try; a failure goes to `log` (every failure, and those where it answered with something else)."""
        failures, malformed = log
        started = time.perf_counter()
        health.stats.started()
        events = aiter(self._backend.stream(deployment, request))
        try:
            first = await anext(events)
            health.stats.first_token(time.perf_counter() - started)
            if buffered:
                events = _replay([event async for event in events])
        except (DeploymentFailed, StopAsyncIteration) as exc:
            reason = getattr(exc, "detail", f"{deployment.name}: empty stream")
            health.stats.finished(time.perf_counter() - started, ok=False)
            health.breaker.record_failure(reason)
            failures.append(reason)
            if getattr(exc, "malformed", False):
                malformed.append(reason)
            return None
        except BaseException:  # cancelled (client gone, shutdown): free the slot, judge nothing
            health.stats.abandoned()
            health.breaker.release()
            raise
        health.breaker.record_success()
        return RoutedStream(deployment, decision, first, events, health, started)

    def status(self) -> dict[str, object]:
        """Breaker states (and why), live signals and the table version, for `GET /v1/routing/status`."""
        deployments: dict[str, object] = {}
        for name, d in self.table.deployments.items():
            b = self.health[name].breaker.snapshot()
            deployments[name] = {
                "provider": d.provider,
                "model": d.model,
                "residency": d.residency,
                "quality": d.quality,
                "price_per_1k": {"input": d.input_price_per_1k, "output": d.output_price_per_1k},
                "max_concurrency": d.max_concurrency,
                "breaker": {
                    "state": b.state.value,
                    "reason": b.reason,
                    "consecutive_failures": b.consecutive_failures,
                    "retry_in_s": None if b.retry_in_s is None else round(b.retry_in_s, 2),
                    "opens": b.opens,
                },
                "signals": self.health[name].stats.snapshot().as_dict(),
                "scrape": self.scraper.last_error.get(name),
            }
        routes = {
            r.name: {"policy": r.policy, "deployments": r.deployments, "fallbacks": r.fallbacks}
            for r in self.table.routes.values()
        }
        return {"version": self.table.version, "deployments": deployments, "routes": routes, "killed": self.killed}


def _worth_waiting(failures: list[str]) -> bool:
    """True when some deployment was merely full or being probed by another request: worth waiting for a slot
    or the probe's verdict (still before the first byte)."""
    return any(f.endswith((": full", ": probing")) for f in failures)


async def _replay(events: list[ModelEvent]) -> AsyncIterator[ModelEvent]:
    for event in events:
        yield event
