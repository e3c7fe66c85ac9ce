"""Breaker transitions (stepped clock), policy ordering and its reasons, and the request classifier's quality."""

from __future__ import annotations

import pytest

from routing.breaker import BreakerConfig, BreakerState, CircuitBreaker
from routing.classify import classify, evaluate, load_labelled
from routing.policy import Candidate, decide
from routing.signals import DeploymentStats, VllmLoad
from routing.table import Deployment, Route, RouteTable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_probes_once_and_recovers() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerConfig(failure_threshold=2, cooldown_s=5, max_cooldown_s=20), clock=clock)
    b.record_failure("ConnectError")
    assert b.allow()
    b.record_failure("ConnectError")
    assert b.state is BreakerState.OPEN and not b.allow()
    assert "2 consecutive failures" in b.snapshot().reason
    clock.now += 5
    assert b.allow()
    assert b.snapshot().state is BreakerState.HALF_OPEN
    assert not b.allow(), "only one probe at a time"
    b.record_failure("Timeout")
    assert b.snapshot().state is BreakerState.OPEN and b.snapshot().retry_in_s == pytest.approx(10)  # doubled
    clock.now += 10
    assert b.allow()
    b.record_success()
    assert b.snapshot().state is BreakerState.CLOSED and b.snapshot().opens == 2 and b.allow()


def _candidates(table: RouteTable, route: Route, **stats: DeploymentStats) -> list[Candidate]:
    out = []
    for i, d in enumerate(table.candidates(route)):
        s = stats.get(d.name, DeploymentStats())
        out.append(Candidate(d, s.snapshot(), CircuitBreaker().snapshot(), i))
    return out


def _measured(ttft_ms: float, n: int = 5) -> DeploymentStats:
    s = DeploymentStats()
    for _ in range(n):
        s.started()
        s.first_token(ttft_ms / 1000)
        s.finished(ttft_ms / 500, ok=True)
    return s


DEPLOYMENTS = [
    Deployment(name="gpu", model="m", base_url="http://gpu/v1", quality=5),
    Deployment(
        name="hosted",
        provider="anthropic",
        model="claude",
        residency="hosted",
        quality=9,
        input_price_per_1k=0.003,
        output_price_per_1k=0.015,
        context_window=200_000,
    ),
]


@pytest.mark.parametrize(
    ("policy", "gpu_ms", "hosted_ms", "expected"),
    [
        ("cheapest-meeting-latency", 300, 200, ("gpu", "hosted")),  # gpu is free and meets 1 s
        ("cheapest-meeting-latency", 3000, 200, ("hosted", "gpu")),  # gpu misses the target
        ("fastest", 300, 200, ("hosted", "gpu")),
        ("quality-first", 300, 200, ("hosted", "gpu")),
    ],
)
def test_policies_order_by_their_criteria(
    policy: str, gpu_ms: float, hosted_ms: float, expected: tuple[str, ...]
) -> None:
    route = Route(name="r", deployments=["gpu", "hosted"], policy=policy, max_ttft_ms=1000)
    table = RouteTable(DEPLOYMENTS, [route])
    cands = _candidates(table, route, gpu=_measured(gpu_ms), hosted=_measured(hosted_ms))
    decision = decide(route, cands, classify([{"role": "user", "content": "What is BGP?"}]), prompt_tokens=50)
    assert decision.order == expected
    assert any("meets" in line or "misses" in line for line in decision.explain())


def test_sensitive_requests_stay_self_hosted_and_hard_ones_prefer_strong_models() -> None:
    route = Route(name="r", deployments=["hosted", "gpu"], policy="ordered", strong_quality=8)
    table = RouteTable(DEPLOYMENTS, [route])
    config = "interface Gi0/1\n ip address 10.0.0.1 255.255.255.0\nrouter bgp 65001\nWhy is BGP down?"
    decision = decide(
        route, _candidates(table, route), classify([{"role": "user", "content": config}]), prompt_tokens=50
    )
    assert decision.order == ("gpu",)
    barred = next(c for c in decision.choices if c.deployment == "hosted")
    assert barred.rank is None and "self-hosted" in barred.reasons[0]
    route = Route(name="r", deployments=["gpu", "hosted"], policy="ordered", strong_quality=8)
    hard = classify(
        [{"role": "user", "content": "Design a redundant WAN and compare the trade-offs of BGP vs SD-WAN."}]
    )
    assert hard.difficulty == "hard" and not hard.sensitive
    assert decide(route, _candidates(table, route), hard, prompt_tokens=50).order == ("hosted", "gpu")


def test_vllm_queue_makes_a_deployment_look_slower() -> None:
    a, b = _measured(100), _measured(100)
    a.load = VllmLoad(waiting=8, running=2, kv_cache_usage=0.95, kv_metric="vllm:kv_cache_usage_perc")
    route = Route(name="r", deployments=["gpu", "gpu2"], policy="fastest")
    table = RouteTable([DEPLOYMENTS[0], DEPLOYMENTS[0].model_copy(update={"name": "gpu2"})], [route])
    decision = decide(route, _candidates(table, route, gpu=a, gpu2=b), classify([]), prompt_tokens=10)
    assert decision.order == ("gpu2", "gpu")


def test_table_validation_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match="fallback"):
        RouteTable(DEPLOYMENTS, [Route(name="r", deployments=["gpu"], fallbacks=["nope"])])
    with pytest.raises(ValueError, match="capabilities"):
        RouteTable(DEPLOYMENTS, [Route(name="r", deployments=["gpu"], requires=frozenset({"vision"}))])
    a = RouteTable(
        DEPLOYMENTS, [Route(name="r", deployments=["gpu"]), Route(name="s", deployments=["hosted"], fallbacks=["r"])]
    )
    assert [d.name for d in a.candidates(a.route("s"))] == ["hosted", "gpu"]
    assert a.version != RouteTable(DEPLOYMENTS, [Route(name="r", deployments=["hosted"])]).version


def test_classifier_quality_on_the_labelled_set() -> None:
    report = evaluate(load_labelled())
    print(
        f"\nclassifier: {report.examples} examples, difficulty accuracy {report.difficulty_accuracy:.3f}, "
        f"sensitive precision {report.sensitive_precision:.3f} recall {report.sensitive_recall:.3f}"
    )
    assert report.examples >= 40
    assert report.sensitive_recall == 1.0, report.errors  # a sensitive prompt must never leave self-hosting
    assert report.difficulty_accuracy >= 0.85, report.errors


def test_an_open_breaker_is_demoted_only_while_cooling_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, cooldown_s=5), clock=clock)
    breaker.record_failure("ConnectError")
    route = Route(name="r", deployments=["gpu", "hosted"], policy="ordered")
    table = RouteTable(DEPLOYMENTS, [route])

    def order() -> tuple[str, ...]:
        cands = _candidates(table, route)
        cands[0] = Candidate(cands[0].deployment, cands[0].stats, breaker.snapshot(), 0)
        return decide(route, cands, classify([]), prompt_tokens=10).order

    assert order() == ("hosted", "gpu")
    clock.now += 5  # cooldown over: back at its rank, so the next request is its half-open probe
    assert order() == ("gpu", "hosted") and breaker.allow()
