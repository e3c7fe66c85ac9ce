"""Routing policies: order a route's deployments for one request, and say why.

A policy is a sort key over `Candidate`s (a deployment with its live signals and breaker state).
Built-ins register in `POLICIES` the same way a plugin would. Before any policy runs, deployments the
request may not use are set aside (a sensitive request only goes to `self_hosted` deployments; a
deployment must have the route's capabilities and a large enough context window). After it, breakers
still cooling down and full deployments are moved to the end (a breaker whose cooldown is over keeps its
rank, so the next request is its half-open probe), and for a hard request deployments below the route's
`strong_quality` go after the strong ones.

Example:
    decision = decide(route, candidates, klass, prompt_tokens=420)
    decision.order          # ('gpu-a', 'claude')
    decision.explain()      # one line per deployment with its rank and reasons
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from routing.breaker import BreakerSnapshot, BreakerState
from routing.classify import RequestClass
from routing.signals import StatsSnapshot
from routing.table import Deployment, Route

__all__ = ["POLICIES", "Candidate", "Choice", "Decision", "decide", "register_policy"]

UNKNOWN_TTFT_MS = 0.0  # measured fewer than MIN_SAMPLES times: optimistic, so it gets tried and measured
MIN_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    """A deployment with what is known about it right now."""

    deployment: Deployment
    stats: StatsSnapshot
    breaker: BreakerSnapshot
    order: int

    def expected_ttft_ms(self) -> float:
        """p50 TTFT, scaled up by the vLLM queue (waiting per running request) and a near-full KV cache."""
        measured = self.stats.ttft_p50_ms is not None and self.stats.samples >= MIN_SAMPLES
        base = self.stats.ttft_p50_ms if measured and self.stats.ttft_p50_ms is not None else UNKNOWN_TTFT_MS
        load = self.stats.load
        if load is None:
            return base * (1 + self.stats.in_flight / self.deployment.max_concurrency)
        factor = 1 + load.waiting / (load.running + 1)
        if load.kv_cache_usage is not None and load.kv_cache_usage > 0.9:
            factor *= 2
        return base * factor

    def meets_latency(self, route: Route) -> bool:
        p95 = self.stats.ttft_p95_ms
        return p95 is None or p95 <= route.max_ttft_ms

    def cost(self, prompt_tokens: int, max_tokens: int) -> float:
        return self.deployment.cost(prompt_tokens, max_tokens)


@dataclass(frozen=True, slots=True)
class Choice:
    """One deployment's place in a decision."""

    deployment: str
    rank: int | None  # None: not eligible for this request
    expected_ttft_ms: float
    est_cost_usd: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The order to try deployments in, and why."""

    route: str
    policy: str
    klass: RequestClass
    order: tuple[str, ...]
    choices: tuple[Choice, ...]

    def explain(self) -> list[str]:
        lines = [
            f"route {self.route!r}, policy {self.policy}, request {self.klass.difficulty}"
            f"{' + sensitive' if self.klass.sensitive else ''} ({'; '.join(self.klass.reasons) or 'no flags'})"
        ]
        for c in sorted(self.choices, key=lambda c: (c.rank is None, c.rank or 0)):
            rank = f"#{c.rank}" if c.rank is not None else "--"
            lines.append(
                f"  {rank} {c.deployment}: ttft~{c.expected_ttft_ms:.0f} ms, cost~${c.est_cost_usd:.6f}; "
                + "; ".join(c.reasons)
            )
        return lines


SortKey = Callable[[Candidate, Route, int, int], tuple[float, ...]]
POLICIES: dict[str, SortKey] = {}


def register_policy(name: str) -> Callable[[SortKey], SortKey]:
    """Register a policy's sort key under a name routes can use."""

    def add(key: SortKey) -> SortKey:
        POLICIES[name] = key
        return key

    return add


@register_policy("ordered")
def _ordered(c: Candidate, route: Route, prompt: int, out: int) -> tuple[float, ...]:
    return (c.order,)


@register_policy("cheapest-meeting-latency")
def _cheapest(c: Candidate, route: Route, prompt: int, out: int) -> tuple[float, ...]:
    return (0 if c.meets_latency(route) else 1, c.cost(prompt, out), c.expected_ttft_ms(), c.order)


@register_policy("fastest")
def _fastest(c: Candidate, route: Route, prompt: int, out: int) -> tuple[float, ...]:
    return (c.expected_ttft_ms(), c.cost(prompt, out), c.order)


@register_policy("quality-first")
def _quality(c: Candidate, route: Route, prompt: int, out: int) -> tuple[float, ...]:
    return (-c.deployment.quality, c.cost(prompt, out), c.expected_ttft_ms(), c.order)


def decide(route: Route, candidates: Sequence[Candidate], klass: RequestClass, *, prompt_tokens: int) -> Decision:
    """Order the candidates for this request under the route's policy."""
    key = POLICIES[route.policy]
    out = route.max_tokens
    eligible: list[tuple[tuple[float, ...], Candidate, list[str]]] = []
    choices: list[Choice] = []
    for c in candidates:
        barred = _barred(c.deployment, route, klass, prompt_tokens + out)
        reasons = _reasons(c, route, klass)
        if barred:
            ttft, cost = c.expected_ttft_ms(), c.cost(prompt_tokens, out)
            choices.append(Choice(c.deployment.name, None, ttft, cost, (barred,)))
            continue
        demote = (
            1 if c.breaker.state is BreakerState.OPEN and (c.breaker.retry_in_s or 0) > 0 else 0,  # cooling down
            1 if c.stats.in_flight >= c.deployment.max_concurrency else 0,
            1 if klass.difficulty == "hard" and c.deployment.quality < route.strong_quality else 0,
        )
        eligible.append(((*demote, *key(c, route, prompt_tokens, out)), c, reasons))
    eligible.sort(key=lambda item: item[0])
    for rank, (_, c, reasons) in enumerate(eligible, start=1):
        ttft, cost = c.expected_ttft_ms(), c.cost(prompt_tokens, out)
        choices.append(Choice(c.deployment.name, rank, ttft, cost, tuple(reasons)))
    order = tuple(c.deployment.name for _, c, _ in eligible)
    return Decision(route.name, route.policy, klass, order, tuple(choices))


def _barred(d: Deployment, route: Route, klass: RequestClass, tokens: int) -> str:
    if klass.sensitive and d.residency != "self_hosted":
        return "excluded: sensitive request must stay on self-hosted deployments"
    if not route.requires <= d.capabilities:
        return f"excluded: lacks {sorted(route.requires - d.capabilities)}"
    if tokens > d.context_window:
        return f"excluded: ~{tokens} tokens exceed its context window of {d.context_window}"
    return ""


def _reasons(c: Candidate, route: Route, klass: RequestClass) -> list[str]:
    reasons: list[str] = [f"{c.deployment.residency}, quality {c.deployment.quality}"]
    if c.stats.ttft_p95_ms is None:
        reasons.append("latency not measured yet")
    else:
        met = "meets" if c.meets_latency(route) else "misses"
        reasons.append(f"p95 TTFT {c.stats.ttft_p95_ms:.0f} ms {met} target {route.max_ttft_ms:.0f} ms")
    if c.stats.load is not None:
        reasons.append(f"vLLM waiting {c.stats.load.waiting:g}, running {c.stats.load.running:g}")
    if c.breaker.state is not BreakerState.CLOSED:
        reasons.append(f"breaker {c.breaker.state.value}: {c.breaker.reason}")
    if c.stats.in_flight >= c.deployment.max_concurrency:
        reasons.append(f"full ({c.stats.in_flight}/{c.deployment.max_concurrency} in flight)")
    if klass.difficulty == "hard" and c.deployment.quality < route.strong_quality:
        reasons.append(f"below strong quality {route.strong_quality} for a hard request")
    return reasons
