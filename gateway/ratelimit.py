"""Metering: per-tenant limits and budgets around each model call, and token/cost accounting.

`reserve` is the one atomic check-and-reserve a request makes (an upper bound of its tokens and cost,
against requests/min, tokens/min and the period budget); `settle` books the actual usage and exports
it as Prometheus metrics per tenant and deployment. The store is in-process by default, Redis-backed
(shared across replicas; a local share of each limit while Redis is unreachable) when `redis_url` is set,
and a SQLite file shared by the worker processes of one `netops serve --workers N` otherwise
(`Metering.build(..., shared=True)`). A reservation never settled stays charged. The in-process store is
called on the event loop (a lock and some arithmetic); the others, which do I/O, from a worker thread.

Example:
    metering = Metering.build(settings, metrics)
    ticket = await metering.reserve(principal, route, request, table)
    cost = await metering.settle(ticket, deployment, prompt_tokens=120, completion_tokens=40)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.tenants import Principal
from routing import ModelRequest
from routing.limits import InProcessLimits, LimitStore, Reservation, reservation_for
from routing.sqlite_limits import SqliteLimits
from routing.table import Deployment, Route, RouteTable

__all__ = ["Metering", "Ticket"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request's reservation, to settle once the call is done."""

    tenant: str
    reservation: Reservation


class Metering:
    """Limits, budgets and accounting for model calls."""

    def __init__(self, store: LimitStore, metrics: Metrics) -> None:
        self.store = store
        self._blocking = not isinstance(store, InProcessLimits)  # does I/O: keep it off the event loop
        self._cost = metrics.cost
        self._tokens = metrics.tokens

    @classmethod
    def build(cls, settings: Settings, metrics: Metrics, *, shared: bool = False) -> Metering:
        """Redis when configured; else, for several worker processes (`shared`), `<data_dir>/limits.db`."""
        if settings.redis_url:
            from routing.fallback_limits import FallbackLimits  # noqa: PLC0415 - imports redis only when configured
            from routing.redis_limits import RedisLimits  # noqa: PLC0415

            rs = settings.routing
            redis_store = RedisLimits.connect(settings.redis_url, prefix=rs.limits_prefix)
            return cls(FallbackLimits(redis_store, share=rs.limits_fallback_share), metrics)
        if shared:
            return cls(SqliteLimits(settings.data_dir / "limits.db"), metrics)
        return cls(InProcessLimits(), metrics)

    async def _call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._blocking:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def reserve(self, who: Principal, route: Route, request: ModelRequest, table: RouteTable) -> Ticket:
        """Check and reserve, atomically; raises `LimitExceeded` (429) or `BudgetExhausted` (402)."""
        tokens, micro = reservation_for(request, table.candidates(route))
        reservation = await self._call(
            self.store.reserve, who.tenant, rpm=who.rpm, quota=who.quota, tokens=tokens, micro_usd=micro
        )
        return Ticket(who.tenant, reservation)

    async def release(self, ticket: Ticket | None) -> None:
        """The call never reached a model: give the whole reservation back (the request still counts)."""
        if ticket is not None:
            await self._call(self.store.settle, ticket.reservation, tokens=0, micro_usd=0)

    async def forfeit(self, ticket: Ticket | None) -> None:
        """The call failed mid-answer: usage is unknown, so the whole reservation stays booked (never under-count)."""
        if ticket is not None:
            r = ticket.reservation
            await self._call(self.store.settle, r, tokens=r.tokens, micro_usd=r.micro_usd)

    async def settle(
        self, ticket: Ticket | None, deployment: Deployment, *, prompt_tokens: int, completion_tokens: int
    ) -> float:
        """Book the actual usage; returns the call's cost in USD."""
        cost = deployment.cost(prompt_tokens, completion_tokens)
        if ticket is None:
            return cost
        await self._call(
            self.store.settle,
            ticket.reservation,
            tokens=prompt_tokens + completion_tokens,
            micro_usd=round(cost * 1_000_000),
        )
        self._cost.labels(ticket.tenant, deployment.name).inc(cost)
        self._tokens.labels(ticket.tenant, deployment.name, "prompt").inc(prompt_tokens)
        self._tokens.labels(ticket.tenant, deployment.name, "completion").inc(completion_tokens)
        return cost
