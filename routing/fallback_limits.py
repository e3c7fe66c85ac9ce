"""Shared limits that outlive their Redis: a conservative local share while it is unreachable, reconciled after.

`FallbackLimits` wraps the shared store (`RedisLimits`). While Redis answers, every call goes to it, and the
wrapper remembers what each tenant's budget had spent at its last reservation. When a call fails because Redis
cannot be reached, this process switches to a local store (`InProcessLimits`) with a `share` of each limit: of the
requests and tokens per minute, and of what was left of each budget when Redis was last seen (a tenant not seen
since this process started is assumed to have spent nothing, times the share). Redis is tried again at most every
`retry_s`; once it answers, everything booked locally meanwhile (reservations and their settlements) is added
to Redis's budget counters, so the period's spend is whole again, and the local store is dropped.

Set `share` to at most 1 / (replicas x workers sharing the Redis): together they then stay within each limit.

Example:
    store = FallbackLimits(RedisLimits.connect(url), share=0.25)
    r = store.reserve("acme", rpm=60, quota=Quota(token_budget=10_000), tokens=900, micro_usd=0)
    store.settle(r, tokens=312, micro_usd=0)  # on whichever store reserved it
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import redis

from routing.limits import InProcessLimits, Quota, Reservation, period_window
from routing.redis_limits import RedisLimits

__all__ = ["FallbackLimits"]

_LOCAL = "@local"  # marks a reservation made by the local share (its period id carries it)


class FallbackLimits:
    """Redis-backed limits with a local share while Redis is down (see the module docstring)."""

    def __init__(
        self, shared: RedisLimits, *, share: float, retry_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.shared = shared
        self.share = share
        self._retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_try = 0.0
        self._local = InProcessLimits()
        self._seen: dict[str, tuple[str, int, int]] = {}  # tenant -> (period, spent at the last reserve): bounded
        self._owed: dict[tuple[str, str], list[int]] = {}  # booked locally, to add to Redis: [tokens, micro]

    def down_for(self) -> float:
        """Seconds since Redis stopped answering (0.0 while it answers)."""
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    def check(self) -> float:
        """Ask Redis now (if due); returns `down_for()` after it (a readiness probe's question)."""
        if self._try_shared():
            try:
                self.shared.ping()
            except redis.RedisError:
                self._went_down()
        return self.down_for()

    def reserve(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation:
        if self._try_shared():
            try:
                reservation, spent = self.shared.reserve_seen(
                    tenant, rpm=rpm, quota=quota, tokens=tokens, micro_usd=micro_usd
                )
            except redis.RedisError:
                self._went_down()
            else:
                self._seen[tenant] = (reservation.period_id, *spent)
                return reservation
        return self._reserve_locally(tenant, rpm=rpm, quota=quota, tokens=tokens, micro_usd=micro_usd)

    def settle(self, reservation: Reservation, *, tokens: int, micro_usd: int) -> None:
        if reservation.period_id.endswith(_LOCAL):
            local = replace(reservation, period_id=reservation.period_id.removesuffix(_LOCAL))
            self._local.settle(local, tokens=tokens, micro_usd=micro_usd)
            self._owe(local, tokens - reservation.tokens, micro_usd - reservation.micro_usd)
            return
        if self._try_shared():
            try:
                self.shared.settle(reservation, tokens=tokens, micro_usd=micro_usd)
                return
            except redis.RedisError:
                self._went_down()
        self._owe(reservation, tokens - reservation.tokens, micro_usd - reservation.micro_usd)

    def spent(self, tenant: str, quota: Quota) -> tuple[int, int]:
        if self._try_shared():
            try:
                return self.shared.spent(tenant, quota)
            except redis.RedisError:
                self._went_down()
        return self._local.spent(tenant, quota)

    def close(self) -> None:
        self.shared.close()

    def _reserve_locally(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation:
        reservation = self._local.reserve(
            tenant,
            rpm=max(1, math.floor(rpm * self.share)),
            quota=self._local_quota(tenant, quota),
            tokens=tokens,
            micro_usd=micro_usd,
        )
        self._owe(reservation, reservation.tokens, reservation.micro_usd)
        return replace(reservation, period_id=reservation.period_id + _LOCAL)

    def _local_quota(self, tenant: str, quota: Quota) -> Quota:
        """The share of each limit this process may use alone: of the rates, and of what each budget had left."""
        period_id, _ = period_window(quota.period, time.time())
        seen_period, spent_t, spent_m = self._seen.get(tenant, (period_id, 0, 0))
        if seen_period != period_id:  # the last reserve was in an earlier period: nothing spent in this one yet
            spent_t, spent_m = 0, 0

        def left(budget: float | None, spent: float) -> float | None:
            return None if budget is None else max(0.0, budget - spent) * self.share

        tokens_left = left(quota.token_budget, spent_t)
        spend_left = left(quota.spend_budget_usd, spent_m / 1_000_000)
        return Quota(
            tpm=None if quota.tpm is None else max(1, math.floor(quota.tpm * self.share)),
            token_budget=None if tokens_left is None else math.floor(tokens_left),
            spend_budget_usd=spend_left,
            period=quota.period,
        )

    def _owe(self, reservation: Reservation, tokens: int, micro_usd: int) -> None:
        with self._lock:
            owed = self._owed.setdefault((reservation.tenant, reservation.period_id), [0, 0])
            owed[0] += tokens
            owed[1] += micro_usd

    def _try_shared(self) -> bool:
        """Whether to call Redis now: it answers, or it is time to try again; what is owed is repaid first."""
        if self._down_since is not None:
            now = self._clock()
            if now < self._next_try:
                return False
            self._next_try = now + self._retry_s
        if self._owed:
            try:
                self._repay()
            except redis.RedisError:
                self._went_down()
                return False
        if self._down_since is not None:
            self._down_since = None
            self._local = InProcessLimits()
        return True

    def _went_down(self) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
        self._next_try = self._clock() + self._retry_s

    def _repay(self) -> None:
        """Add what was booked locally to Redis's budget counters (all of it, or none: it stays owed)."""
        with self._lock:
            owed, self._owed = self._owed, {}
        try:
            self.shared.book({key: (t, m) for key, (t, m) in owed.items() if t or m})
        except redis.RedisError:
            with self._lock:
                for key, (t, m) in owed.items():
                    again = self._owed.setdefault(key, [0, 0])
                    again[0] += t
                    again[1] += m
            raise
