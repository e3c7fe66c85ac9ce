"""The SQLite limits store shared by `netops serve --workers N`: the same semantics as the in-process and Redis
stores (the deterministic checks of `test_limits.py` run against it too), never over budget from several
processes at once, and the rate bucket shared by them."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from routing import BudgetExhausted, LimitExceeded
from routing.limits import Quota
from routing.sqlite_limits import SqliteLimits
from tests.routing.test_limits import (  # the same checks, with this module's `store`
    test_budget_counts_reservations_and_settles_to_actual_usage,
    test_rpm_and_tpm_give_429_with_retry_after,
)

__all__ = [
    "test_budget_counts_reservations_and_settles_to_actual_usage",
    "test_rpm_and_tpm_give_429_with_retry_after",
]

BUDGET = 6000


@pytest.fixture
def store(tmp_path: Path) -> SqliteLimits:
    return SqliteLimits(tmp_path / "limits.db")


def spend(path: Path, attempts: int) -> int:
    """One worker process: reserve 300 tokens, settle 120, until refused; returns the tokens it settled."""
    store, used = SqliteLimits(path), 0
    with ThreadPoolExecutor(4) as pool:
        for result in pool.map(lambda _: _once(store), range(attempts)):
            used += result
    return used


def _once(store: SqliteLimits) -> int:
    try:
        r = store.reserve("acme", rpm=1_000_000, quota=Quota(token_budget=BUDGET), tokens=300, micro_usd=0)
    except BudgetExhausted:
        return 0
    store.settle(r, tokens=120, micro_usd=0)
    return 120


def test_worker_processes_never_exceed_one_budget(tmp_path: Path) -> None:
    path = tmp_path / "limits.db"
    SqliteLimits(path)  # the schema, before the processes race for it
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        used = sum(pool.starmap(spend, [(path, 80)] * 3))
    spent, _ = SqliteLimits(path).spent("acme", Quota(token_budget=BUDGET))
    assert spent == used <= BUDGET
    assert used > BUDGET // 2  # the budget was spent, not only refused


def test_the_requests_bucket_is_shared_by_every_handle_on_the_file(tmp_path: Path) -> None:
    a, b = SqliteLimits(tmp_path / "limits.db"), SqliteLimits(tmp_path / "limits.db")  # two workers
    for store in (a, b, a):
        store.reserve("acme", rpm=3, quota=Quota(), tokens=1, micro_usd=0)
    with pytest.raises(LimitExceeded) as over:
        b.reserve("acme", rpm=3, quota=Quota(), tokens=1, micro_usd=0)
    assert over.value.code == "rate_limited" and over.value.retry_after > 0
