"""Per-tenant limits and budgets: requests/min, tokens/min, and a token or spend budget per period.

One atomic check-and-reserve per request (`LimitStore.reserve`), settled after the call with the actual
usage (`LimitStore.settle`). The reservation is an upper bound of what the call can use (see
`reservation_for`), so a budget is never exceeded even under concurrency: the reserved amount counts as
spent until settled, and a reservation never settled (a crashed or abandoned request) stays charged.

Rates are token buckets (capacity = the per-minute limit, refilled continuously); budgets are counters per
calendar period (UTC hour, day or month). Over a rate: `LimitExceeded` (429 with retry-after); budget used
up: `BudgetExhausted` (402). `InProcessLimits` is the embedded default; `routing.redis_limits.RedisLimits`
shares the same semantics across gateway replicas.

Example:
    store = InProcessLimits()
    r = store.reserve("acme", rpm=60, quota=Quota(token_budget=10_000), tokens=900, micro_usd=0)
    store.settle(r, tokens=312, micro_usd=0)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from routing.backend import ModelRequest
from routing.errors import BudgetExhausted, LimitExceeded
from routing.table import Deployment

__all__ = [
    "InProcessLimits",
    "LimitStore",
    "Quota",
    "Reservation",
    "budget_exhausted",
    "over_rpm",
    "over_tpm",
    "period_window",
    "reservation_for",
]

Period = Literal["hour", "day", "month"]


@dataclass(frozen=True, slots=True)
class Quota:
    """A tenant's limits beyond requests/min; None means unlimited."""

    tpm: int | None = None
    token_budget: int | None = None
    spend_budget_usd: float | None = None
    period: Period = "day"


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one request holds until it is settled."""

    tenant: str
    period_id: str
    tokens: int
    micro_usd: int
    tpm: int | None


def period_window(period: Period, now: float) -> tuple[str, float]:
    """The period's id (e.g. `day:2026-11-26`) and the seconds until it ends, for a wall-clock time."""
    t = datetime.fromtimestamp(now, UTC)
    if period == "hour":
        start = t.replace(minute=0, second=0, microsecond=0)
        return f"hour:{start:%Y-%m-%dT%H}", 3600 - (now - start.timestamp())
    if period == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return f"day:{start:%Y-%m-%d}", 86400 - (now - start.timestamp())
    nxt = datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return f"month:{t:%Y-%m}", nxt.timestamp() - now


def reservation_for(request: ModelRequest, deployments: Sequence[Deployment]) -> tuple[int, int]:
    """An upper bound of (tokens, micro-USD) one request can use on any of these deployments.

    Prompt tokens are bounded by the UTF-8 bytes of the messages and tool schemas (a byte-level BPE token
    is at least one byte) plus template overhead; with tools offered the pipeline may call twice.
    """
    text = "".join(str(m.get("content") or "") for m in request.messages) + (
        json.dumps(request.tools) if request.tools else ""
    )
    prompt = len(text.encode()) + 8 * len(request.messages) + 16
    calls = 2 if request.tools else 1
    window = max(d.context_window for d in deployments)
    prompt = min(prompt, window)
    tokens = calls * min(prompt + request.max_tokens, window)
    cost = max(d.cost(prompt, request.max_tokens) for d in deployments) * calls
    return tokens, math.ceil(cost * 1_000_000)


class LimitStore(Protocol):
    """Atomic check-and-reserve and settle; implementations share the semantics above."""

    def reserve(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation: ...

    def settle(self, reservation: Reservation, *, tokens: int, micro_usd: int) -> None: ...

    def spent(self, tenant: str, quota: Quota) -> tuple[int, int]:
        """(tokens, micro-USD) counted in the current period, reservations included."""
        ...


@dataclass
class _Bucket:
    level: float
    updated: float

    def refill(self, capacity: float, now: float) -> None:
        self.level = min(capacity, self.level + (now - self.updated) * capacity / 60.0)
        self.updated = now


class InProcessLimits:
    """The embedded default: one process's memory, one lock."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._rpm: dict[str, _Bucket] = {}
        self._tpm: dict[str, _Bucket] = {}
        self._budget: dict[tuple[str, str], list[int]] = {}

    def reserve(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation:
        now = self._clock()
        period_id, resets_in = period_window(quota.period, self._wall())
        with self._lock:
            spent = self._budget.setdefault((tenant, period_id), [0, 0])
            _check_budget(tenant, quota, spent[0] + tokens, spent[1] + micro_usd, resets_in)
            requests = self._rpm.setdefault(tenant, _Bucket(float(rpm), now))
            requests.refill(rpm, now)
            if requests.level < 1.0:
                raise over_rpm(tenant, rpm, (1.0 - requests.level) * 60.0 / rpm)
            if quota.tpm:
                bucket = self._tpm.setdefault(tenant, _Bucket(float(quota.tpm), now))
                bucket.refill(quota.tpm, now)
                need = min(tokens, quota.tpm)
                if bucket.level < need:
                    raise over_tpm(tenant, quota.tpm, (need - bucket.level) * 60.0 / quota.tpm)
                bucket.level -= tokens
            requests.level -= 1.0
            spent[0] += tokens
            spent[1] += micro_usd
        return Reservation(tenant, period_id, tokens, micro_usd, quota.tpm)

    def settle(self, reservation: Reservation, *, tokens: int, micro_usd: int) -> None:
        with self._lock:
            spent = self._budget.setdefault((reservation.tenant, reservation.period_id), [0, 0])
            spent[0] += tokens - reservation.tokens
            spent[1] += micro_usd - reservation.micro_usd
            bucket = self._tpm.get(reservation.tenant)
            if bucket is not None and reservation.tpm:
                bucket.level = min(float(reservation.tpm), bucket.level + reservation.tokens - tokens)

    def spent(self, tenant: str, quota: Quota) -> tuple[int, int]:
        period_id, _ = period_window(quota.period, self._wall())
        with self._lock:
            tokens, micro = self._budget.get((tenant, period_id), [0, 0])
        return tokens, micro


def _check_budget(tenant: str, quota: Quota, tokens: int, micro_usd: int, resets_in: float) -> None:
    if quota.token_budget is not None and tokens > quota.token_budget:
        raise budget_exhausted(tenant, quota, "tokens", resets_in)
    if quota.spend_budget_usd is not None and micro_usd > round(quota.spend_budget_usd * 1_000_000):
        raise budget_exhausted(tenant, quota, "spend", resets_in)


def budget_exhausted(tenant: str, quota: Quota, kind: str, resets_in: float) -> BudgetExhausted:
    """The error for a budget that cannot cover a request (`kind` is `tokens` or `spend`)."""
    what = f"{quota.token_budget} tokens" if kind == "tokens" else f"${quota.spend_budget_usd:g}"
    return BudgetExhausted(
        f"tenant {tenant!r} has not enough budget left for this request this {quota.period} "
        f"(budget {what}; resets in {resets_in:.0f} s)",
        resets_in=resets_in,
    )


def over_rpm(tenant: str, rpm: int, retry_after: float) -> LimitExceeded:
    return LimitExceeded(f"tenant {tenant!r} is over {rpm} requests/minute", retry_after=retry_after)


def over_tpm(tenant: str, tpm: int, retry_after: float) -> LimitExceeded:
    return LimitExceeded(
        f"tenant {tenant!r} is over {tpm} tokens/minute", retry_after=retry_after, code="token_rate_limited"
    )
