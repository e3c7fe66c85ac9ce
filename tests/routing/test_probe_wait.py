"""A half-open breaker lets one probe through; requests that arrive meanwhile wait for its verdict instead of
failing with 503 (the game day's kill-switch race: the primary drained, the fallback's breaker half-open).

The backend is `ProbeBackend`, a double at our `routing.ModelBackend` interface whose first token takes 0.2 s
(the router's breakers and waiting, not a model, are under test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from routing import (
    BackendUnavailable,
    BreakerConfig,
    Deployment,
    DeploymentFailed,
    ModelRequest,
    Route,
    Router,
    RouteTable,
    StreamEnd,
    TextDelta,
)
from routing.backend import ModelEvent


class ProbeBackend:
    def __init__(self, *, failing: bool) -> None:
        self.failing = failing
        self.calls = 0

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.calls += 1
        await asyncio.sleep(0.2)
        if self.failing:
            raise DeploymentFailed(f"{deployment.name}: connection refused", deployment=deployment.name)
        yield TextDelta("ok")
        yield StreamEnd("stop", 3, 1)


def _half_open_router(backend: ProbeBackend) -> tuple[Router, Route]:
    """A router whose only live deployment's breaker has opened and cooled down: the next request probes."""
    table = RouteTable([Deployment(name="fallback", model="m")], [Route(name="r", deployments=["fallback"])])
    now = [0.0]
    router = Router(table, backend, breaker=BreakerConfig(failure_threshold=1, cooldown_s=1.0), clock=lambda: now[0])
    router.health["fallback"].breaker.record_failure("fallback: connection refused")
    now[0] = 2.0
    return router, table.routes["r"]


async def _ask(router: Router, route: Route) -> str:
    stream = await router.open(route, ModelRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=4))
    return stream.deployment.name


def test_requests_arriving_during_a_probe_wait_for_its_success() -> None:
    backend = ProbeBackend(failing=False)
    router, route = _half_open_router(backend)

    async def run() -> list[str]:
        return await asyncio.gather(*(_ask(router, route) for _ in range(4)))

    assert asyncio.run(run()) == ["fallback"] * 4
    assert router.health["fallback"].breaker.state.value == "closed"


def test_requests_waiting_on_a_failed_probe_get_backend_unavailable() -> None:
    backend = ProbeBackend(failing=True)
    router, route = _half_open_router(backend)

    async def run() -> list[BaseException | str]:
        return await asyncio.gather(*(_ask(router, route) for _ in range(4)), return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, BackendUnavailable) for r in results), results
    assert backend.calls == 1  # the waiters saw the probe fail and the breaker re-open: none of them tried it
    assert "breaker open" in str(results[-1])
