"""Three `netops serve` replicas on one PostgreSQL and one Redis (the gameday sandbox, `Sandbox(replicas=3)`),
clients spread across them, behave as one: one requests/min bucket across them, a budget never overspent and its
spend booked exactly, one linear audit chain holding every answer (`netops audit verify` ok), a key revoked
through one replica's store refused by all within 1 s, a kill switch thrown once obeyed by all within 1 s, and an
index version promoted by `netops index build --promote` (another process, the one index folder they share)
searched by all within 1 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from evals.gameday.platform import BUDGET_TOKENS, ROUTE, Platform, Sandbox
from gateway.audit import AuditLog
from gateway.db import open_engine
from routing.limits import Quota
from routing.redis_limits import RedisLimits

RPM = 30


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with Sandbox(replicas=3) as p:
        yield p


def ask(url: str, key: str) -> httpx.Response:
    body = {"model": ROUTE, "messages": [{"role": "user", "content": "Is the BGP peer up?"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)


def new_key(p: Platform, tenant: str) -> tuple[str, str]:
    out = p.netops("key", "create", tenant).stdout
    return out.split("key id:", 1)[1].split()[0], out.split("api key:", 1)[1].split()[0]


def spread(p: Platform, key: str, n: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(lambda i: ask(p.urls[i % 3], key), range(n)))


def test_requests_per_minute_hold_exactly_across_replicas(platform: Platform) -> None:
    assert platform.netops("tenant", "create", "paced", "--rpm", str(RPM)).returncode == 0
    _, key = new_key(platform, "paced")
    started = time.monotonic()
    statuses = Counter(r.status_code for r in spread(platform, key, 2 * RPM))
    refilled = (time.monotonic() - started) * RPM / 60  # the bucket refills at RPM/60 a second meanwhile
    assert set(statuses) == {200, 429}, statuses
    assert RPM <= statuses[200] <= RPM + refilled, (statuses, refilled)  # one bucket, not one per replica


def test_a_budget_is_never_overspent_across_replicas(platform: Platform) -> None:
    replies = spread(platform, platform.keys["gd-budget"], 60)
    answered = sum(r.status_code == 200 for r in replies)
    assert {r.status_code for r in replies} <= {200, 402} and 0 < answered < 60
    assert platform.redis is not None
    spent, _ = RedisLimits.connect(platform.redis.url).spent("gd-budget", Quota(token_budget=BUDGET_TOKENS))
    assert spent == 16 * answered <= BUDGET_TOKENS  # each answer's 16 tokens, booked once, never past the budget


def test_one_linear_audit_chain_holds_every_answer(platform: Platform) -> None:
    assert platform.postgres is not None
    log = AuditLog(open_engine(platform.postgres.url))
    before = log.count()
    replies = spread(platform, platform.keys["gd"], 30)
    assert all(r.status_code == 200 for r in replies)
    ids = {r.headers["x-request-id"] for r in replies}
    time.sleep(0.5)
    records = [r for r in log.records(limit=1000) if r["request_id"] in ids]
    assert len(records) == 30 and {r["kind"] for r in records} == {"chat.completed"}
    assert log.count() - before == 30
    verify = platform.netops("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_revoked_key_is_refused_by_every_replica_within_a_second(platform: Platform) -> None:
    key_id, key = new_key(platform, "gd")
    assert [ask(url, key).status_code for url in platform.urls] == [200, 200, 200]  # cached everywhere
    assert platform.netops("key", "revoke", key_id).returncode == 0
    revoked_at, refused_after = time.monotonic(), dict[str, float]()
    while len(refused_after) < 3 and time.monotonic() - revoked_at < 5:
        for url in platform.urls:
            if url not in refused_after and ask(url, key).status_code == 401:
                refused_after[url] = time.monotonic() - revoked_at
    assert len(refused_after) == 3 and max(refused_after.values()) <= 1.0, refused_after


def test_a_kill_switch_reaches_every_replica_within_a_second(platform: Platform) -> None:
    killed = platform.netops("kill", "route", ROUTE, "--reason", "replica drill")
    assert killed.returncode == 0, killed.stderr
    thrown_at, refused_after = time.monotonic(), dict[str, float]()
    try:
        while len(refused_after) < 3 and time.monotonic() - thrown_at < 5:
            for url in platform.urls:
                r = ask(url, platform.keys["gd"])
                if url not in refused_after and r.status_code == 503 and r.json()["code"] == "killed":
                    refused_after[url] = time.monotonic() - thrown_at
    finally:
        assert platform.netops("revive", "route", ROUTE, "--reason", "drill over").returncode == 0
    assert len(refused_after) == 3 and max(refused_after.values()) <= 1.0, refused_after


def search(url: str, key: str, query: str) -> dict[str, str]:
    r = httpx.post(
        f"{url}/v1/retrieval/search", json={"query": query, "top_k": 1}, headers={"authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200, r.text
    return r.json()["results"][0]  # type: ignore[no-any-return]


def test_an_index_promote_is_searched_by_every_replica_within_a_second(platform: Platform) -> None:
    assert platform.runbooks is not None
    key, query = platform.keys["gd"], "OSPF neighbor stuck in ExStart"
    before = {search(url, key, query)["index_version"] for url in platform.urls}
    assert len(before) == 1  # one live version, the same everywhere
    (platform.runbooks / "ospf.md").write_text("# OSPF adjacency stuck\n\nExStart usually means an MTU mismatch.\n")
    build = platform.netops("index", "build", "--promote", timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    promoted_at, seen_after = time.monotonic(), dict[str, float]()
    while len(seen_after) < 3 and time.monotonic() - promoted_at < 5:
        for url in platform.urls:
            hit = search(url, key, query)
            if url not in seen_after and hit["index_version"] not in before and hit["path"].endswith("ospf.md"):
                seen_after[url] = time.monotonic() - promoted_at
    assert len(seen_after) == 3 and max(seen_after.values()) <= 1.0, seen_after
