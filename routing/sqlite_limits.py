"""Limits and budgets shared by the gateway's worker processes on one machine, in a SQLite file of their own.

Same semantics as `routing.limits.InProcessLimits` (and `routing.redis_limits.RedisLimits` across machines):
each check-and-reserve and each settle is one `BEGIN IMMEDIATE` transaction, so two workers never both take the
last unit of a bucket or a budget. The file is separate from the state store and written with
`synchronous=NORMAL`: a commit costs no fsync (a power cut may lose the last bookings; a crashed process loses
nothing), which keeps two transactions per request cheap. Rates use the wall clock, shared by the processes.

Tables: `rate(tenant, r, rt, t, tt)` (the requests and tokens buckets and when each was last refilled) and
`budget(tenant, period_id, tokens, micro)` (spent counters per period; old periods are pruned on the fly).

Example:
    store = SqliteLimits(Path("var/limits.db"))
    r = store.reserve("acme", rpm=60, quota=Quota(token_budget=10_000), tokens=900, micro_usd=0)
    store.settle(r, tokens=312, micro_usd=0)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from routing.limits import Quota, Reservation, budget_exhausted, over_rpm, over_tpm, period_window

__all__ = ["SqliteLimits"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate (tenant TEXT PRIMARY KEY, r REAL, rt REAL, t REAL, tt REAL);
CREATE TABLE IF NOT EXISTS budget (
    tenant TEXT NOT NULL, period_id TEXT NOT NULL, tokens INTEGER NOT NULL, micro INTEGER NOT NULL,
    PRIMARY KEY (tenant, period_id)
);
"""


class SqliteLimits:
    """The cross-process store; one connection per thread, one transaction per call."""

    def __init__(self, path: Path, *, wall: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wall = wall
        self._local = threading.local()
        with sqlite3.connect(path, timeout=10.0) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def reserve(self, tenant: str, *, rpm: int, quota: Quota, tokens: int, micro_usd: int) -> Reservation:
        now = self._wall()
        period_id, resets_in = period_window(quota.period, now)
        with self._transaction() as db:
            row = db.execute(
                "SELECT tokens, micro FROM budget WHERE tenant = ? AND period_id = ?", (tenant, period_id)
            ).fetchone()
            spent_t, spent_m = row or (0, 0)
            if quota.token_budget is not None and spent_t + tokens > quota.token_budget:
                raise budget_exhausted(tenant, quota, "tokens", resets_in)
            if quota.spend_budget_usd is not None and spent_m + micro_usd > round(quota.spend_budget_usd * 1_000_000):
                raise budget_exhausted(tenant, quota, "spend", resets_in)
            r, t = self._take(db, tenant, now, rpm, quota.tpm, tokens)
            db.execute(
                "INSERT INTO rate VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET "
                "r = excluded.r, rt = excluded.rt, t = excluded.t, tt = excluded.tt",
                (tenant, r, now, t, now),
            )
            db.execute(
                "INSERT INTO budget VALUES (?, ?, ?, ?) ON CONFLICT (tenant, period_id) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, micro = micro + excluded.micro",
                (tenant, period_id, tokens, micro_usd),
            )
            if row is None:  # a new period for this tenant: forget its finished ones
                db.execute("DELETE FROM budget WHERE tenant = ? AND period_id != ?", (tenant, period_id))
        return Reservation(tenant, period_id, tokens, micro_usd, quota.tpm)

    @staticmethod
    def _take(
        db: sqlite3.Connection, tenant: str, now: float, rpm: int, tpm: int | None, tokens: int
    ) -> tuple[float, float]:
        """The buckets' levels after taking one request and `tokens`; raises if either is short."""
        row = db.execute("SELECT r, rt, t, tt FROM rate WHERE tenant = ?", (tenant,)).fetchone()
        r0, rt, t0, tt = row or (float(rpm), now, float(tpm or 0), now)
        r = min(float(rpm), r0 + (now - rt) * rpm / 60.0)
        if r < 1.0:
            raise over_rpm(tenant, rpm, (1.0 - r) * 60.0 / rpm)
        t = 0.0
        if tpm:
            t = min(float(tpm), t0 + (now - tt) * tpm / 60.0)
            need = min(tokens, tpm)
            if t < need:
                raise over_tpm(tenant, tpm, (need - t) * 60.0 / tpm)
            t -= tokens
        return r - 1.0, t

    def settle(self, reservation: Reservation, *, tokens: int, micro_usd: int) -> None:
        delta_t, delta_m = tokens - reservation.tokens, micro_usd - reservation.micro_usd
        with self._transaction() as db:
            db.execute(
                "UPDATE budget SET tokens = tokens + ?, micro = micro + ? WHERE tenant = ? AND period_id = ?",
                (delta_t, delta_m, reservation.tenant, reservation.period_id),
            )
            if reservation.tpm and delta_t:
                db.execute(
                    "UPDATE rate SET t = min(?, t - ?) WHERE tenant = ?",
                    (float(reservation.tpm), delta_t, reservation.tenant),
                )

    def spent(self, tenant: str, quota: Quota) -> tuple[int, int]:
        period_id, _ = period_window(quota.period, self._wall())
        with self._transaction() as db:
            row = db.execute(
                "SELECT tokens, micro FROM budget WHERE tenant = ? AND period_id = ?", (tenant, period_id)
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
