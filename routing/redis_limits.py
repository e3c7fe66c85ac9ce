"""Limits and budgets shared across gateway replicas through Redis: the only module that imports `redis`.

Same semantics as `routing.limits.InProcessLimits`, with each check-and-reserve one Lua script (atomic on
the Redis server, using the server's clock for the rate buckets) and each settle another.
Keys: `<prefix>:<tenant>:rate` (both buckets) and `<prefix>:<tenant>:budget:<period id>` (spent counters,
expiring after the period).

Example:
    store = RedisLimits.connect("redis://127.0.0.1:6379/0")
    r = store.reserve("acme", rpm=60, quota=Quota(token_budget=10_000), tokens=900, micro_usd=0)
    store.settle(r, tokens=312, micro_usd=0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from routing.limits import Quota, Reservation, budget_exhausted, over_rpm, over_tpm, period_window

__all__ = ["RedisLimits"]

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tbud, micro, mbud, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local b = redis.call('HMGET', KEYS[2], 'tokens', 'micro')
local spent_t, spent_m = tonumber(b[1] or '0'), tonumber(b[2] or '0')
if tbud >= 0 and spent_t + tokens > tbud then return {1, 0} end
if mbud >= 0 and spent_m + micro > mbud then return {2, 0} end
local r = redis.call('HMGET', KEYS[1], 'r', 'rt', 't', 'tt')
local rb = math.min(rpm, tonumber(r[1] or rpm) + (now - tonumber(r[2] or now)) * rpm / 60)
if rb < 1 then return {3, math.ceil((1 - rb) * 60000 / rpm)} end
local tb = 0
if tpm > 0 then
  tb = math.min(tpm, tonumber(r[3] or tpm) + (now - tonumber(r[4] or now)) * tpm / 60)
  local need = math.min(tokens, tpm)
  if tb < need then return {4, math.ceil((need - tb) * 60000 / tpm)} end
  tb = tb - tokens
end
redis.call('HSET', KEYS[1], 'r', tostring(rb - 1), 'rt', tostring(now), 't', tostring(tb), 'tt', tostring(now))
redis.call('EXPIRE', KEYS[1], 300)
redis.call('HINCRBY', KEYS[2], 'tokens', tokens)
redis.call('HINCRBY', KEYS[2], 'micro', micro)
redis.call('EXPIRE', KEYS[2], ttl)
return {0, 0, spent_t + tokens, spent_m + micro}
"""

_SETTLE = """
local dt, dm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'tokens', dt)
  redis.call('HINCRBY', KEYS[2], 'micro', dm)
end
if tpm > 0 and dt ~= 0 then
  local level = redis.call('HGET', KEYS[1], 't')
  if level then redis.call('HSET', KEYS[1], 't', tostring(math.min(tpm, tonumber(level) - dt))) end
end
return 0
"""


class RedisLimits:
    """The shared store; every method is one round trip."""

    def __init__(self, client: Any, *, prefix: str = "netops:limits", wall: Callable[[], float] = time.time) -> None:
        self._client = client
        self._prefix = prefix
        self._wall = wall
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def connect(cls, url: str, *, prefix: str = "netops:limits") -> RedisLimits:
        return cls(redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=1.0), prefix=prefix)

    def _keys(self, tenant: str, period_id: str) -> list[str]:
        return [f"{self._prefix}:{tenant}:rate", f"{self._prefix}:{tenant}:budget:{period_id}"]

    def reserve(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation:
        return self.reserve_seen(tenant, rpm=rpm, quota=quota, tokens=tokens, micro_usd=micro_usd)[0]

    def reserve_seen(
        self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int
    ) -> tuple[Reservation, tuple[int, int]]:
        """`reserve`, and what the tenant's budget has spent with it (tokens, micro-USD)."""
        period_id, resets_in = period_window(quota.period, self._wall())
        spend = -1 if quota.spend_budget_usd is None else round(quota.spend_budget_usd * 1_000_000)
        args = [
            rpm,
            quota.tpm or 0,
            tokens,
            -1 if quota.token_budget is None else quota.token_budget,
            micro_usd,
            spend,
            int(resets_in) + 3600,
        ]
        status, value, *spent = self._reserve(keys=self._keys(tenant, period_id), args=args)
        if status == 1:
            raise budget_exhausted(tenant, quota, "tokens", resets_in)
        if status == 2:
            raise budget_exhausted(tenant, quota, "spend", resets_in)
        if status == 3:
            raise over_rpm(tenant, rpm, int(value) / 1000.0)
        if status == 4:
            raise over_tpm(tenant, quota.tpm or 0, int(value) / 1000.0)
        return Reservation(tenant, period_id, tokens, micro_usd, quota.tpm), (int(spent[0]), int(spent[1]))

    def book(self, spent: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Add usage booked elsewhere (tokens, micro-USD per tenant and period id) to the budget counters, in one
        transaction. A counter this creates expires after 40 days, past any period."""
        pipe = self._client.pipeline(transaction=True)
        for (tenant, period_id), (tokens, micro) in spent.items():
            key = self._keys(tenant, period_id)[1]
            pipe.hincrby(key, "tokens", tokens)
            pipe.hincrby(key, "micro", micro)
            pipe.expire(key, 40 * 86400, nx=True)
        pipe.execute()

    def settle(self, reservation: Reservation, *, tokens: int, micro_usd: int) -> None:
        args = [tokens - reservation.tokens, micro_usd - reservation.micro_usd, reservation.tpm or 0]
        self._settle(keys=self._keys(reservation.tenant, reservation.period_id), args=args)

    def spent(self, tenant: str, quota: Quota) -> tuple[int, int]:
        period_id, _ = period_window(quota.period, self._wall())
        tokens, micro = self._client.hmget(self._keys(tenant, period_id)[1], "tokens", "micro")
        return int(tokens or 0), int(micro or 0)

    def ping(self) -> None:
        self._client.ping()

    def close(self) -> None:
        self._client.close()
