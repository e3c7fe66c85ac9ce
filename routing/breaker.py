"""A circuit breaker per deployment: closed -> open on failures -> half-open probe -> closed.

Closed: every request may pass; `failure_threshold` consecutive failures (errors or timeouts) open it.
Open: nothing passes until `cooldown_s` has elapsed; then one request is let through as a probe
(half-open). The probe's success closes the breaker; its failure re-opens it with the cooldown doubled
(up to `max_cooldown_s`). Every transition keeps its reason, shown by `GET /v1/routing/status`.
The clock is injected, so tests step time instead of sleeping.

Example:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, cooldown_s=5))
    if breaker.allow():
        ... breaker.record_success() or breaker.record_failure("ConnectError")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BreakerConfig", "BreakerSnapshot", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """How quickly a breaker opens and how long it stays open."""

    failure_threshold: int = 3
    cooldown_s: float = 5.0
    max_cooldown_s: float = 60.0


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """The breaker's state and why it is in it."""

    state: BreakerState
    reason: str
    consecutive_failures: int
    opened_for_s: float | None
    retry_in_s: float | None
    opens: int


class CircuitBreaker:
    """One deployment's breaker; thread-safe."""

    def __init__(self, config: BreakerConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._reason = "no failures seen"
        self._failures = 0
        self._opened_at = 0.0
        self._cooldown = self.config.cooldown_s
        self._probing = False
        self._opens = 0

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """May a request go to this deployment now? In half-open, only one probe at a time."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._clock() - self._opened_at < self._cooldown:
                    return False
                self._state = BreakerState.HALF_OPEN
                self._reason = f"cooldown of {self._cooldown:.1f} s over: probing"
                self._probing = False
            if self._probing:
                return False
            self._probing = True
            return True

    def record_success(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                self._reason = "probe succeeded: closed"
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probing = False
            self._cooldown = self.config.cooldown_s

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN:
                self._cooldown = min(self._cooldown * 2, self.config.max_cooldown_s)
                self._open(f"probe failed: {reason}")
            elif self._state is BreakerState.CLOSED and self._failures >= self.config.failure_threshold:
                self._open(f"{self._failures} consecutive failures, last: {reason}")
            self._probing = False

    def release(self) -> None:
        """An allowed request was not sent after all (e.g. its deployment was full): free the probe slot."""
        with self._lock:
            self._probing = False

    def _open(self, reason: str) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._reason = reason
        self._opens += 1

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            now = self._clock()
            is_open = self._state is BreakerState.OPEN
            return BreakerSnapshot(
                self._state,
                self._reason,
                self._failures,
                now - self._opened_at if self._state is not BreakerState.CLOSED else None,
                max(0.0, self._opened_at + self._cooldown - now) if is_open else None,
                self._opens,
            )
