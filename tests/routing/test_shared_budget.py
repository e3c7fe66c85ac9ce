"""Two gateway processes share one tenant budget through the real Redis: under concurrent load, never exceeded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from gateway.db import open_engine
from gateway.supervisor import ModelServer
from gateway.tenants import Tenants
from routing.limits import Quota, period_window
from tests.conftest import ModelEndpoint
from tests.support import free_port

BUDGET = 3000
REDIS = "redis://127.0.0.1:6379/0"


def _start(tmp: Path, name: str, db_url: str, model_url: str, prefix: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {
        **os.environ,
        "NETOPS_DATA_DIR": str(tmp / name),
        "NETOPS_DATABASE_URL": db_url,
        "NETOPS_SERVER__PORT": str(port),
        "NETOPS_MODEL_SERVER__ENABLED": "false",
        "NETOPS_REDIS_URL": REDIS,
        "NETOPS_ROUTING__LIMITS_PREFIX": prefix,
        "NETOPS_RETRIEVAL__SOURCES": json.dumps([str(tmp / "runbooks")]),
        "NETOPS_DEPLOYMENTS": json.dumps(
            [{"name": "local", "model": "smollm2-135m-instruct", "base_url": model_url, "max_concurrency": 1}]
        ),
        "NETOPS_ROUTES": json.dumps(
            [{"name": "plain", "deployments": ["local"], "assistant": False, "max_tokens": 16}]
        ),
    }
    log = (tmp / f"{name}.log").open("w")  # a file, not a pipe: an undrained pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--no-model-server"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait(tmp: Path, name: str, proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"gateway {name} did not start: {(tmp / f'{name}.log').read_text()[-2000:]}")


@pytest.fixture
def two_gateways(
    tmp_path: Path, model: ModelEndpoint, second_model: ModelServer
) -> Iterator[tuple[list[str], str, str]]:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "dns.md").write_text("# DNS\n\nCheck the resolver with `dig`.\n")
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    tenants = Tenants(open_engine(db_url))
    tenants.create("budgeted", models=["plain"], tools=[], rpm=10_000)
    tenants.set_quota("budgeted", Quota(token_budget=BUDGET, period="day"))
    key = tenants.create_key("budgeted").plaintext
    prefix = f"netops:test:{uuid.uuid4().hex}"
    procs: list[subprocess.Popen[str]] = []
    try:
        a, url_a = _start(tmp_path, "a", db_url, model.direct_url, prefix)  # together, as replicas start: both
        procs.append(a)  # see no demo tenant in the shared database, one creates it
        b, url_b = _start(tmp_path, "b", db_url, second_model.url, prefix)
        procs.append(b)
        _wait(tmp_path, "a", a, url_a)
        _wait(tmp_path, "b", b, url_b)
        yield [url_a, url_b], key, prefix
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        client = redis.Redis.from_url(REDIS)
        for k in client.scan_iter(f"{prefix}:*"):
            client.delete(k)


def test_two_gateways_never_exceed_a_shared_token_budget(two_gateways: tuple[list[str], str, str]) -> None:
    urls, key, prefix = two_gateways
    used: list[tuple[str, int]] = []
    refusals: list[dict[str, object]] = []
    others: list[str] = []
    lock = threading.Lock()

    def worker(url: str) -> None:
        refused_in_a_row = 0
        with httpx.Client(timeout=120, headers={"authorization": f"Bearer {key}"}) as client:
            for _ in range(40):
                r = client.post(
                    f"{url}/v1/chat/completions",
                    json={"model": "plain", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]},
                )
                with lock:
                    if r.status_code == 200:
                        used.append((url, r.json()["usage"]["total_tokens"]))
                        refused_in_a_row = 0
                    elif r.status_code != 402:
                        others.append(f"{r.status_code} {r.text[:300]}")
                        return
                    else:
                        refusals.append({**r.json(), "content-type": r.headers["content-type"]})
                        refused_in_a_row += 1
                if refused_in_a_row >= 8:
                    return
                if refused_in_a_row:
                    time.sleep(0.3)  # reservations in flight may still be settled below their upper bound

    threads = [threading.Thread(target=worker, args=(urls[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(tokens for _, tokens in used)
    spent = int(
        redis.Redis.from_url(REDIS).hget(f"{prefix}:budgeted:budget:{period_window('day', time.time())[0]}", "tokens")
        or 0
    )
    print(
        f"\nshared budget {BUDGET}: {len(used)} answers used {total} tokens, "
        f"{len(refusals)} refusals (402), redis counted {spent}"
    )
    assert not others, others
    assert total <= BUDGET and spent == total
    assert {u for u, _ in used} == set(urls), "both gateways answered"
    assert total > BUDGET // 2, "the budget was used, not refused early"
    problem = refusals[0]
    assert problem["code"] == "budget_exhausted" and problem["status"] == 402
    assert str(problem["content-type"]).startswith("application/problem+json") and "resets_in" in problem
