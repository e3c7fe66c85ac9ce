"""Routing over two real llama.cpp servers through the real gateway and the OpenAI SDK.

`fast` is a second llama.cpp server; `slow` is the session's server behind a 0.5 s delaying proxy.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import httpx
import openai

from gateway.supervisor import ModelServer
from tests.routing.conftest import RoutingGateway

ASK = [{"role": "user", "content": "Name one routing protocol."}]


def _ask(gw: RoutingGateway, model: str, content: str = "Name one routing protocol.") -> dict[str, Any]:
    response = httpx.post(
        f"{gw.v1}/chat/completions",
        headers={"authorization": f"Bearer {gw.key}"},
        json={"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": content}]},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fastest_policy_learns_to_prefer_the_fast_server(routing_gateway: RoutingGateway) -> None:
    served = [_ask(routing_gateway, "fastest")["netops"]["deployment"] for _ in range(9)]
    assert "slow" in served[:6], "an unmeasured deployment is tried (three times) before it is judged"
    assert served[-3:] == ["fast", "fast", "fast"], served


def test_cheapest_policy_uses_the_free_server_and_costs_are_accounted(routing_gateway: RoutingGateway) -> None:
    gw = routing_gateway
    assert {_ask(gw, "cheap")["netops"]["deployment"] for _ in range(3)} == {"slow"}
    paid = _ask(gw, "ha")
    assert paid["netops"]["deployment"] == "fast" and paid["netops"]["cost_usd"] > 0
    usage = paid["usage"]
    assert paid["netops"]["cost_usd"] == round(
        (usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.5) / 1000, 8
    )
    record = next(r for r in gw.svc.audit.records(tenant="demo", limit=5) if r["kind"] == "chat.completed")
    assert record["payload"]["cost_usd"] > 0 and record["payload"]["routing"]["policy"] == "ordered"
    metrics = httpx.get(f"{gw.url}/metrics", headers={"authorization": f"Bearer {gw.operator}"}).text
    assert 'netops_cost_usd_total{deployment="fast",tenant="demo"}' in metrics


def test_device_configs_stay_on_self_hosted_deployments(routing_gateway: RoutingGateway) -> None:
    config = "interface Gi0/1\n ip address 10.0.0.1 255.255.255.0\nrouter bgp 65001\nIs this valid?"
    answer = _ask(routing_gateway, "ha", config)
    assert answer["netops"]["deployment"] == "slow"  # `fast` is a hosted deployment


def test_status_is_operator_only_and_explains_breakers(routing_gateway: RoutingGateway) -> None:
    gw = routing_gateway
    tenant_admin = httpx.get(f"{gw.v1}/routing/status", headers={"authorization": f"Bearer {gw.key}"})
    assert tenant_admin.status_code == 403 and "operator" in tenant_admin.json()["detail"]
    status = httpx.get(f"{gw.v1}/routing/status", headers={"authorization": f"Bearer {gw.operator}"})
    assert status.status_code == 200
    body = status.json()
    assert set(body["deployments"]) == {"fast", "slow"} and body["version"] == gw.svc.router.table.version
    assert body["deployments"]["fast"]["breaker"]["state"] == "closed"
    user_key = gw.svc.tenants.create_key("demo", label="user", role="user").plaintext
    denied = httpx.get(f"{gw.v1}/routing/status", headers={"authorization": f"Bearer {user_key}"})
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"


def _load(gw: RoutingGateway, stop: threading.Event, results: list[str]) -> None:
    sdk = openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0, timeout=120)
    while not stop.is_set():
        try:
            reply = sdk.chat.completions.create(model="ha", max_tokens=8, messages=ASK)  # type: ignore[arg-type]
            results.append(reply.model_extra["netops"]["deployment"] if reply.model_extra else "?")
        except openai.APIError as exc:
            results.append(f"FAILED: {exc}")


def _breaker(gw: RoutingGateway) -> dict[str, Any]:
    status = httpx.get(f"{gw.v1}/routing/status", headers={"authorization": f"Bearer {gw.operator}"}).json()
    breaker: dict[str, Any] = status["deployments"]["fast"]["breaker"]
    return breaker


def test_killing_a_backend_mid_load_fails_no_request_and_the_breaker_recovers(
    routing_gateway: RoutingGateway, second_model: ModelServer
) -> None:
    gw = routing_gateway
    opens_before = _breaker(gw)["opens"]
    stop, results = threading.Event(), list[str]()
    workers = [threading.Thread(target=_load, args=(gw, stop, results)) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 60
        while results.count("fast") < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        restarts = second_model.restarts
        pid = second_model.pid  # the test kills the real process; the supervisor restarts it
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = len(results)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            b = _breaker(gw)
            recovered = b["opens"] > opens_before and b["state"] == "closed" and second_model.restarts > restarts
            if recovered and results[killed_at:].count("fast") >= 3 and "slow" in results[killed_at:]:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=120)
    after = results[killed_at:]
    print(f"\nkill mid-load: {len(results)} requests, after the kill {Counter(after)}")
    assert not [r for r in results if r.startswith("FAILED")], results
    assert "slow" in after, "requests failed over to the surviving server"
    assert b["opens"] > opens_before and b["state"] == "closed", b
    assert after.count("fast") >= 3, "the restarted server takes traffic again"
