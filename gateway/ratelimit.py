"""Per-tenant request rate: a token bucket in process memory.

Example:
    limiter = RateLimiter()
    limiter.check("acme", rpm=60)  # raises RateLimited(retry_after=...) when over
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gateway.errors import RateLimited

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per tenant, refilled at `rpm / 60` per second, holding at most `rpm`."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, tenant: str, *, rpm: int) -> None:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(tenant, _Bucket(float(rpm), now))
            rate = rpm / 60.0
            bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                retry_after = (1.0 - bucket.tokens) / rate
                raise RateLimited(f"tenant {tenant!r} is over {rpm} requests/minute", retry_after=retry_after)
            bucket.tokens -= 1.0
