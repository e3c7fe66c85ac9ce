"""The drills: each sets a fault, drives requests through the gateway, observes, restores, and judges.

A drill returns a `DrillResult`: its expected behaviour, what was observed, `passed` (True, False, or None when
the platform offers no way to run it: "not covered", with what is missing) and figures (counts, latencies).
The index drill (`stale_index`) lives in `evals.gameday.index_drill`.

Example:
    result = DRILLS["malformed_stream"].run(platform, PROFILES["short"])
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from evals.gameday.faults import Fault
from evals.gameday.index_drill import stale_index
from evals.gameday.platform import MODERATION, ROUTE, Platform
from evals.gameday.results import PROFILES, DrillResult, Profile
from routing.signals import percentile

__all__ = ["DRILLS", "PROFILES", "Drill", "DrillResult", "Profile"]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    code: str
    degraded: Any
    deployment: str
    seconds: float


def ask(p: Platform, tenant: str = "gd", *, stream: bool = False) -> Reply:
    """One chat request; the status, problem code, `netops.degraded`, serving deployment and latency."""
    body = {"model": ROUTE, "stream": stream, "messages": [{"role": "user", "content": "Is the BGP peer up?"}]}
    started = time.perf_counter()
    r = httpx.post(
        f"{p.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {p.keys[tenant]}"}, timeout=60
    )
    seconds = time.perf_counter() - started
    if r.headers.get("content-type", "").startswith("application/problem+json") or r.status_code != 200:
        return Reply(r.status_code, str(r.json().get("code", "")), None, "", seconds)
    if stream:
        ok = "[DONE]" in r.text and "Check the" in r.text
        return Reply(r.status_code, "" if ok else "empty_stream", None, "", seconds)
    data = r.json()
    netops = data.get("netops") or {}
    content = data["choices"][0]["message"]["content"]
    return Reply(
        200, "" if content else "empty_answer", netops.get("degraded"), str(netops.get("deployment", "")), seconds
    )


def _restore(p: Platform) -> None:
    """Every deployment back to ok, and the primary serving again (its breaker closed)."""
    p.faults.set("primary", Fault.OK)
    p.faults.set("fallback", Fault.OK)
    _primary_within(p, 10.0)


def _primary_within(p: Platform, seconds: float) -> bool:
    """Whether the primary serves a request within `seconds` (breakers close, switches lift)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ask(p).deployment == "primary":
            return True
        time.sleep(0.2)
    return False


def _codes(replies: list[Reply]) -> dict[str, int]:
    return dict(Counter(f"{r.status} {r.code}".strip() for r in replies))


def malformed_stream(p: Platform, prof: Profile) -> DrillResult:
    p.faults.set("primary", Fault.MALFORMED)
    p.faults.set("fallback", Fault.MALFORMED)
    replies = [ask(p, stream=i % 2 == 0) for i in range(max(4, prof.requests // 2))]
    _restore(p)
    first_malformed = replies[0].status == 502 and replies[0].code == "backend_malformed"
    later = {(502, "backend_malformed"), (503, "backend_unavailable")}
    passed = first_malformed and all((r.status, r.code) in later for r in replies)
    return DrillResult(
        "malformed_stream",
        "both deployments answer a stream request with plain JSON: requests (JSON or SSE) get 502 "
        "backend_malformed, never a 200 with an empty answer or a 500; once both breakers are open (2 failures "
        "each) the router tries neither and answers 503 backend_unavailable until the cooldown",
        f"status/code counts: {_codes(replies)}",
        passed,
        {"codes": _codes(replies)},
    )


def backend_dead(p: Platform, prof: Profile) -> DrillResult:
    p.faults.set("primary", Fault.DEAD)
    one = [ask(p) for _ in range(prof.requests)]
    p.faults.set("fallback", Fault.DEAD)
    both = [ask(p) for _ in range(max(3, prof.requests // 3))]
    _restore(p)
    fell_back = all(r.status == 200 and r.deployment == "fallback" for r in one) and bool(one[0].degraded)
    refused = all(r.status == 503 and r.code == "backend_unavailable" for r in both)
    return DrillResult(
        "backend_dead",
        "primary dead: every answer comes from `fallback`, the first marked netops.degraded; both dead: 503 "
        "backend_unavailable, no 500s. Known gap: once primary's breaker is open the policy ranks it last, so "
        "the fallback's answers are no longer marked degraded (the count is reported)",
        f"primary dead: {_codes(one)}, served by {dict(Counter(r.deployment for r in one))}, "
        f"degraded {sum(1 for r in one if r.degraded)}/{len(one)}; both dead: {_codes(both)}",
        fell_back and refused,
        {"primary_dead": _codes(one), "both_dead": _codes(both)},
    )


def slow_tail(p: Platform, prof: Profile) -> DrillResult:
    p.faults.set("primary", Fault.OK, base_delay_s=0.05)
    base = [ask(p) for _ in range(prof.requests)]
    p.faults.set("primary", Fault.SLOW_TAIL, base_delay_s=0.05, tail_share=0.1, tail_factor=10.0)
    before = Counter(p.faults.hits)
    tail = [ask(p) for _ in range(prof.requests * 2)]
    served = {k: p.faults.hits[k] - before[k] for k in ("primary", "fallback")}
    _restore(p)

    def ms(replies: list[Reply], q: float) -> float:
        return round(percentile(sorted(r.seconds * 1000 for r in replies), q) or 0.0, 1)

    figures = {
        "baseline_p50_ms": ms(base, 0.5),
        "baseline_p99_ms": ms(base, 0.99),
        "tail_p50_ms": ms(tail, 0.5),
        "tail_p99_ms": ms(tail, 0.99),
        "served": served,
    }
    moved = "moved some requests to fallback" if served["fallback"] else "kept every request on primary"
    return DrillResult(
        "slow_tail",
        "10% of primary's requests 10x slower: every request still succeeds; route `gameday` (policy ordered) "
        "has no latency signal in its ranking, so it is expected to stay on primary",
        f"{_codes(tail)}; p50 {figures['tail_p50_ms']} ms, p99 {figures['tail_p99_ms']} ms "
        f"(baseline p50 {figures['baseline_p50_ms']}, p99 {figures['baseline_p99_ms']}); the router {moved}",
        all(r.status == 200 for r in tail),
        figures,
    )


def budget_exhausted(p: Platform, prof: Profile) -> DrillResult:
    replies: list[Reply] = []
    for _ in range(50):
        replies.append(ask(p, "gd-budget"))
        if replies[-1].status != 200:
            break
    audit = p.netops("audit", "tail", "-n", "5", "--tenant", "gd-budget").stdout
    last = replies[-1]
    passed = last.status == 402 and last.code == "budget_exhausted" and "budget_exhausted" in audit
    return DrillResult(
        "budget_exhausted",
        "a tenant with a token budget gets answers until it is spent, then 402 budget_exhausted; the audit "
        "records the refusal",
        f"{sum(1 for r in replies if r.status == 200)} answered, then {last.status} {last.code}; "
        f"audit tail {'has' if 'budget_exhausted' in audit else 'lacks'} budget_exhausted",
        passed,
        {"codes": _codes(replies)},
    )


def kill_switch(p: Platform, prof: Profile) -> DrillResult:
    p.faults.set("primary", Fault.OK, base_delay_s=0.3)  # so requests are in flight when the switch is thrown
    replies: list[tuple[float, Reply]] = []  # (when the request started, its reply)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            started = time.monotonic()
            replies.append((started, ask(p)))

    workers = [threading.Thread(target=load) for _ in range(2)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    thrown = p.netops("kill", "deployment", "primary", "--reason", "gameday drill").returncode == 0
    thrown_at = time.monotonic()
    time.sleep(2.0)
    reviving_at = time.monotonic()
    revived = p.netops("revive", "deployment", "primary").returncode == 0
    stop.set()
    for w in workers:
        w.join()
    during = [r for t, r in replies if thrown_at + 1.0 < t < reviving_at]  # held within config_refresh_s 0.5 s
    drained = [r for r in during if r.deployment == "fallback" and r.degraded]
    failed = [r for _, r in replies if r.status != 200]
    back = _primary_within(p, 5.0)
    _restore(p)
    passed = thrown and revived and back and not failed and bool(during) and len(drained) == len(during)
    return DrillResult(
        "kill_switch",
        "`netops kill deployment primary` while requests flow: none fails, new requests go to fallback "
        "(netops.degraded: switched off), and after `netops revive` primary serves again",
        f"thrown {thrown}, revived {revived}; {len(replies)} requests {_codes([r for _, r in replies])}; after the "
        f"switch held, {len(drained)}/{len(during)} served by fallback marked degraded; "
        f"primary serves after revive: {back}",
        passed,
        {"requests": len(replies), "failed": len(failed), "after_switch": len(during), "drained": len(drained)},
    )


def guardrail_slow(p: Platform, prof: Profile) -> DrillResult:
    replies = [ask(p, "gd-guard") for _ in range(3)]
    passed = all(r.status == 503 and r.code == "guardrail_timeout" for r in replies)
    return DrillResult(
        "guardrail_slow",
        "a scanner slower than its policy's timeout (tenant gd-guard: a moderation service answering after 1 s, "
        "timeout_ms 200) fails closed: 503 guardrail_timeout",
        f"{_codes(replies)}",
        passed,
        {"codes": _codes(replies)},
    )


def guardrail_down(p: Platform, prof: Profile) -> DrillResult:
    before = [ask(p, "gd-scan") for _ in range(2)]
    p.faults.set(MODERATION, Fault.DEAD)
    down = [ask(p, "gd-scan") for _ in range(max(3, prof.requests // 4))]
    others = [ask(p) for _ in range(2)]  # tenants whose policy does not ask it are unaffected
    p.faults.set(MODERATION, Fault.OK)
    after = [ask(p, "gd-scan") for _ in range(2)]
    passed = all(r.status == 200 for r in [*before, *others, *after]) and all(
        (r.status, r.code) == (503, "guardrail_failed") for r in down
    )
    return DrillResult(
        "guardrail_down",
        "the moderation service a tenant's policy asks (a `remote` scanner) goes down: that tenant's requests "
        "fail closed with 503 guardrail_failed, other tenants are unaffected, and answers resume once it is back",
        f"before {_codes(before)}; service down {_codes(down)}, other tenant {_codes(others)}; back {_codes(after)}",
        passed,
        {"down": _codes(down), "others": _codes(others), "after": _codes(after)},
    )


def _under_load(p: Platform, outage: Callable[[], dict[str, Any]]) -> tuple[list[Reply], dict[str, Any]]:
    """Two clients asking as `gd` while `outage` runs (it stops a store, observes, and starts it again)."""
    replies: list[Reply] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            replies.append(ask(p))

    clients = [threading.Thread(target=load) for _ in range(2)]
    for c in clients:
        c.start()
    try:
        seen = outage()
    finally:
        stop.set()
        for c in clients:
            c.join()
    return replies, seen


def _ready(p: Platform) -> dict[str, Any]:
    r = httpx.get(f"{p.url}/readyz", timeout=30)
    return {"http": r.status_code, **r.json()}


def postgres_down(p: Platform, prof: Profile) -> DrillResult:
    expected = (
        "PostgreSQL stopped under load: known keys keep being answered from the last good snapshot, a key never "
        "seen gets 503 store_unavailable, /readyz says degraded (store down_for_s, spooled audit records); after "
        "the restart the spooled records are appended to the chain and `netops audit verify` is ok"
    )
    pg = p.postgres
    if pg is None:
        return DrillResult("postgres_down", expected, "not covered: no PostgreSQL server binaries here", None)

    def outage() -> dict[str, Any]:
        time.sleep(0.5)
        pg.stop()
        time.sleep(2.5)  # past the key cache's TTL: known keys now come from the snapshot
        unseen = ask(p, "gd-unseen")
        down = _ready(p)
        pg.start()
        deadline = time.monotonic() + 15
        up = _ready(p)
        while up["checks"]["store"]["ok"] is not True and time.monotonic() < deadline:
            time.sleep(0.3)
            up = _ready(p)
        return {"unseen": unseen, "down": down, "up": up}

    replies, seen = _under_load(p, outage)
    verify = p.netops("audit", "verify")
    unseen, down, up = seen["unseen"], seen["down"], seen["up"]
    store_down = down["checks"]["store"]
    passed = (
        all(r.status == 200 for r in replies)
        and (unseen.status, unseen.code) == (503, "store_unavailable")
        and (down["http"], down["status"]) == (200, "degraded")
        and store_down.get("spooled", 0) > 0
        and up["checks"]["store"]["ok"] is True
        and verify.returncode == 0
    )
    figures = {"load": _codes(replies), "store_down": store_down, "store_up": up["checks"]["store"]}
    return DrillResult(
        "postgres_down",
        expected,
        f"load {_codes(replies)}; unseen key {unseen.status} {unseen.code}; /readyz while down {down['http']} "
        f"{down['status']} (down {store_down.get('down_for_s')} s, {store_down.get('spooled')} spooled); after "
        f"restart store ok {up['checks']['store']['ok']}, drained {up['checks']['store'].get('drained')}; "
        f"audit verify exit {verify.returncode}",
        passed,
        figures,
    )


def redis_down(p: Platform, prof: Profile) -> DrillResult:
    expected = (
        "Redis killed under load: requests keep being answered within a local share of each limit, /readyz says "
        "degraded (limits down_for_s); after the restart the local spend is booked into Redis and limits are ok"
    )
    rd = p.redis
    if rd is None:
        return DrillResult("redis_down", expected, "not covered: no Redis of the drill's own (no PostgreSQL)", None)

    def outage() -> dict[str, Any]:
        time.sleep(0.5)
        rd.stop()
        time.sleep(2.0)
        down = _ready(p)
        rd.start()
        time.sleep(1.5)  # Redis is tried again once a second
        return {"down": down, "up": _ready(p)}

    replies, seen = _under_load(p, outage)
    down, up = seen["down"]["checks"].get("limits", {}), seen["up"]["checks"].get("limits", {})
    passed = all(r.status == 200 for r in replies) and down.get("ok") is False and up.get("ok") is True
    return DrillResult(
        "redis_down",
        expected,
        f"load {_codes(replies)}; /readyz while down {seen['down']['http']} {seen['down']['status']} (limits "
        f"down {down.get('down_for_s')} s, local share {down.get('local_share')}); after restart limits ok "
        f"{up.get('ok')}",
        passed,
        {"load": _codes(replies), "limits_down": down, "limits_up": up},
    )


@dataclass(frozen=True, slots=True)
class Drill:
    name: str
    run: Callable[[Platform, Profile], DrillResult]
    short: bool = True  # part of the short (CI) profile


DRILLS = {
    d.name: d
    for d in (
        Drill("malformed_stream", malformed_stream),
        Drill("backend_dead", backend_dead),
        Drill("slow_tail", slow_tail),
        Drill("budget_exhausted", budget_exhausted),
        Drill("kill_switch", kill_switch),
        Drill("guardrail_slow", guardrail_slow),
        Drill("guardrail_down", guardrail_down),
        Drill("stale_index", stale_index),
        Drill("postgres_down", postgres_down),
        Drill("redis_down", redis_down),
    )
}
