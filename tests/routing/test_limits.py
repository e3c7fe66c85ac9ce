"""Limits and budgets, in process and in the real Redis at 127.0.0.1:6379: same semantics, never over budget."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from routing import BudgetExhausted, Deployment, LimitExceeded, ModelRequest
from routing.limits import InProcessLimits, LimitStore, Quota, period_window, reservation_for
from routing.redis_limits import RedisLimits


@pytest.fixture(params=["in_process", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[LimitStore]:
    if request.param == "in_process":
        yield InProcessLimits()
        return
    prefix = f"netops:test:{uuid.uuid4().hex}"
    redis_store = RedisLimits.connect("redis://127.0.0.1:6379/0", prefix=prefix)
    yield redis_store
    client = redis_store._client  # the test cleans up its own keys
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    redis_store.close()


def test_rpm_and_tpm_give_429_with_retry_after(store: LimitStore) -> None:
    for _ in range(3):
        store.reserve("acme", rpm=3, quota=Quota(), tokens=10, micro_usd=0)
    with pytest.raises(LimitExceeded) as over:
        store.reserve("acme", rpm=3, quota=Quota(), tokens=10, micro_usd=0)
    assert over.value.code == "rate_limited" and 0 < over.value.retry_after <= 20.5
    quota = Quota(tpm=1000)
    r = store.reserve("beta", rpm=100, quota=quota, tokens=900, micro_usd=0)
    with pytest.raises(LimitExceeded) as tpm:
        store.reserve("beta", rpm=100, quota=quota, tokens=500, micro_usd=0)
    assert tpm.value.code == "token_rate_limited"
    store.settle(r, tokens=100, micro_usd=0)  # unused reservation flows back into the bucket
    store.reserve("beta", rpm=100, quota=quota, tokens=500, micro_usd=0)


def test_budget_counts_reservations_and_settles_to_actual_usage(store: LimitStore) -> None:
    quota = Quota(token_budget=1000, spend_budget_usd=0.01)
    r1 = store.reserve("acme", rpm=100, quota=quota, tokens=600, micro_usd=4000)
    with pytest.raises(BudgetExhausted) as exhausted:
        store.reserve("acme", rpm=100, quota=quota, tokens=600, micro_usd=0)
    assert exhausted.value.code == "budget_exhausted" and exhausted.value.resets_in > 0
    store.settle(r1, tokens=150, micro_usd=1000)
    assert store.spent("acme", quota) == (150, 1000)
    store.reserve("acme", rpm=100, quota=quota, tokens=600, micro_usd=0)
    with pytest.raises(BudgetExhausted, match=r"\$0.01"):
        store.reserve("acme", rpm=100, quota=quota, tokens=10, micro_usd=9001)


def test_concurrent_reservations_never_exceed_the_budget(store: LimitStore) -> None:
    quota, budget = Quota(token_budget=5000), 5000

    def one(_: int) -> int:
        try:
            r = store.reserve("acme", rpm=10_000, quota=quota, tokens=300, micro_usd=0)
        except BudgetExhausted:
            return 0
        store.settle(r, tokens=120, micro_usd=0)
        return 120

    with ThreadPoolExecutor(16) as pool:
        used = sum(pool.map(one, range(200)))
    spent, _ = store.spent("acme", quota)
    assert spent == used <= budget
    assert used >= budget - 300  # the budget was used, not just refused


def test_reservation_is_an_upper_bound() -> None:
    request = ModelRequest(messages=[{"role": "user", "content": "é" * 100}], max_tokens=50)
    small = Deployment(name="a", model="m", context_window=2048, input_price_per_1k=1.0, output_price_per_1k=2.0)
    tokens, micro = reservation_for(request, [small])
    assert tokens == 200 + 8 + 16 + 50  # bytes, not characters
    assert micro == round((224 * 1.0 + 50 * 2.0) / 1000 * 1_000_000)
    assert reservation_for(ModelRequest([{"role": "user", "content": "x" * 9000}], 50), [small])[0] == 2048
    assert period_window("month", 1_764_115_200.0)[0] == "month:2025-11"
