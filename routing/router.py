"""Choosing a deployment for a route and failing over before the first byte.

A deployment that fails before its first event is skipped and the next one in the route is tried;
once a stream has started, a failure ends it (retrying would duplicate output).

Example:
    router = Router(table, backend)
    stream = await router.open(table.route("netops-assistant"), request)
    stream.deployment.name
    async for event in stream: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from routing.backend import ModelBackend, ModelEvent, ModelRequest
from routing.errors import BackendUnavailable, DeploymentFailed
from routing.table import Deployment, Route, RouteTable

__all__ = ["RoutedStream", "Router"]


class RoutedStream:
    """A started stream from the deployment that answered."""

    def __init__(self, deployment: Deployment, first: ModelEvent, rest: AsyncIterator[ModelEvent]) -> None:
        self.deployment = deployment
        self._first: ModelEvent | None = first
        self._rest = rest

    def __aiter__(self) -> AsyncIterator[ModelEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[ModelEvent]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for event in self._rest:
            yield event


class Router:
    """Tries a route's deployments in order until one starts streaming."""

    def __init__(self, table: RouteTable, backend: ModelBackend) -> None:
        self.table = table
        self._backend = backend

    async def open(self, route: Route, request: ModelRequest) -> RoutedStream:
        failures: list[str] = []
        for deployment in self.table.candidates(route):
            events = aiter(self._backend.stream(deployment, request))
            try:
                first = await anext(events)
            except (DeploymentFailed, StopAsyncIteration) as exc:
                failures.append(getattr(exc, "detail", f"{deployment.name}: empty stream"))
                continue
            return RoutedStream(deployment, first, events)
        raise BackendUnavailable(
            f"no deployment of {route.name!r} answered: {'; '.join(failures)}",
            deployments=[d.name for d in self.table.candidates(route)],
        )
