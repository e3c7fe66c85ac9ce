"""Kill switches against the real gateway and model: thrown from another process (the CLI) and held within about
a second, audited, revived; a drained deployment finishes its stream in flight while new requests go to the
route's other deployment; routes and tenants refused with 503 `killed`; a switched-off prompt version hands its
conversations to the version in force; the admin API is operator-only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import PromptSettings
from routing.table import Deployment, Route
from tests.conftest import ModelEndpoint, TenantGateway, one_tenant_gateway
from tests.gateway.test_audit import netops
from tests.gateway.test_errors import netops_field, sse_chunks
from tests.gateway.test_prompt_canary import _ask, _candidate, _netops
from tests.routing.conftest import delaying_proxy
from tests.support import ThreadedServer


@pytest.fixture
def gw(model: ModelEndpoint, tmp_path: Path) -> Iterator[TenantGateway]:
    """Deployment `a` answers through a proxy that holds each request 1 s (so a stream on it is still in flight
    when the drain test throws its switch, however short the model's answer); `b` directly."""
    slow = ThreadedServer(delaying_proxy(model.direct_url.removesuffix("/v1"), 1.0)).start()
    deployments = [
        Deployment(name="a", model="smollm2-135m-instruct", base_url=f"{slow.url}/v1"),
        Deployment(name="b", model="smollm2-135m-instruct", base_url=model.url),
    ]
    routes = [Route(name="pair", deployments=["a", "b"], assistant=False, temperature=0.0)]
    try:
        with one_tenant_gateway(
            tmp_path / "data", model.url, tools=("dns_lookup",), deployments=deployments, routes=routes
        ) as gw:
            yield gw
    finally:
        slow.stop()


def operator_key(gw: TenantGateway) -> str:
    return gw.svc.tenants.create_key("platform", label="ops", role="operator").plaintext


def invoke(gw: TenantGateway) -> httpx.Response:
    body = {"arguments": {"name": "localhost", "record_type": "A"}}
    headers = {"authorization": f"Bearer {gw.key}"}
    return httpx.post(f"{gw.url}/v1/tools/dns_lookup/invoke", json=body, headers=headers, timeout=30)


def chat(gw: TenantGateway, **extra: Any) -> httpx.Response:
    body = {"model": "pair", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], **extra}
    headers = {"authorization": f"Bearer {gw.key}"}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def until(check: Any, timeout: float = 10.0) -> float:
    """Seconds until `check()` holds (fails the test after `timeout`)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("not within the timeout")


def test_a_tool_switched_off_from_the_cli_is_refused_within_a_second(gw: TenantGateway) -> None:
    data = gw.svc.settings.data_dir
    assert invoke(gw).status_code == 200
    thrown = netops(data, "kill", "tool", "dns_lookup", "--reason", "resolver flaps, INC-7")
    assert thrown.returncode == 0, thrown.stderr
    thrown_at = time.monotonic()
    seen = until(lambda: invoke(gw).status_code == 503)
    assert time.monotonic() - thrown_at < 1.0 and seen < 1.0  # config_refresh_s is 0.5 s
    refused = invoke(gw).json()
    assert refused["code"] == "killed" and "resolver flaps, INC-7" in refused["detail"]
    listed = netops(data, "kill", "--list")
    assert '"dns_lookup"' in listed.stdout
    assert netops(data, "revive", "tool", "dns_lookup", "--reason", "fixed").returncode == 0
    until(lambda: invoke(gw).status_code == 200, timeout=3)
    kinds = [r["kind"] for r in gw.svc.audit.records(limit=100)]
    assert "kill.thrown" in kinds and "kill.revived" in kinds
    again = netops(data, "revive", "tool", "dns_lookup")
    assert again.returncode == 2 and "is switched off" in again.stderr


def test_a_drained_deployment_finishes_its_stream_and_new_requests_go_elsewhere(gw: TenantGateway) -> None:
    ops = {"authorization": f"Bearer {operator_key(gw)}"}
    assert netops_field(chat(gw))["deployment"] == "a"  # the route's first choice
    finished: dict[str, Any] = {}

    def long_stream() -> None:
        finished["response"] = chat(gw, stream=True, max_tokens=96)

    streaming = threading.Thread(target=long_stream)
    streaming.start()
    time.sleep(0.3)  # the stream is under way on "a"
    drain = httpx.post(
        f"{gw.url}/v1/kill", json={"kind": "deployment", "name": "a", "reason": "driver update"}, headers=ops
    )
    assert drain.status_code == 200, drain.text
    assert streaming.is_alive()  # drained while the stream was in flight
    report = netops_field(chat(gw))
    assert report["deployment"] == "b" and report["degraded"]["reason"] == "switched off (drained)"
    streaming.join()
    in_flight = netops_field(finished["response"])
    finishes = [c["choices"][0]["finish_reason"] for c in sse_chunks(finished["response"].text) if c["choices"]]
    assert in_flight["deployment"] == "a" and "error" not in finishes and finishes[-1] == "stop"
    status = httpx.get(f"{gw.url}/v1/routing/status", headers=ops).json()
    assert status["killed"] == {"a": "driver update"} and status["kill_switches"][0]["name"] == "a"
    httpx.post(f"{gw.url}/v1/kill", json={"kind": "deployment", "name": "b", "reason": "both"}, headers=ops)
    none_left = chat(gw)
    assert none_left.status_code == 503 and none_left.json()["code"] == "backend_unavailable"
    for name in ("a", "b"):
        assert httpx.delete(f"{gw.url}/v1/kill/deployment/{name}", headers=ops).status_code == 200
    assert netops_field(chat(gw))["deployment"] == "a"


def test_routes_and_tenants_are_refused_and_only_operators_may_switch(gw: TenantGateway) -> None:
    ops = {"authorization": f"Bearer {operator_key(gw)}"}
    mine = {"authorization": f"Bearer {gw.key}"}
    assert (
        httpx.post(f"{gw.url}/v1/kill", json={"kind": "tool", "name": "x", "reason": "r"}, headers=mine).status_code
        == 403
    )
    httpx.post(f"{gw.url}/v1/kill", json={"kind": "route", "name": "pair", "reason": "bad answers"}, headers=ops)
    refused = chat(gw)
    assert refused.status_code == 503 and refused.json()["code"] == "killed" and "bad answers" in refused.text
    httpx.delete(f"{gw.url}/v1/kill/route/pair", headers=ops)
    httpx.post(f"{gw.url}/v1/kill", json={"kind": "tenant", "name": "t", "reason": "abuse"}, headers=ops)
    tools = httpx.get(f"{gw.url}/v1/tools", headers=mine)
    assert tools.status_code == 503 and tools.json()["code"] == "killed"
    assert httpx.get(f"{gw.url}/v1/kill", headers=ops).json()["data"][0]["name"] == "t"  # operators still work
    httpx.delete(f"{gw.url}/v1/kill/tenant/t", headers=ops)
    assert chat(gw).status_code == 200
    bad = httpx.post(f"{gw.url}/v1/kill", json={"kind": "printer", "name": "x", "reason": "r"}, headers=ops)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_a_switched_off_prompt_version_answers_nothing(model: ModelEndpoint, tmp_path: Path) -> None:
    fresh = PromptSettings(rollout_refresh_s=0)
    with one_tenant_gateway(tmp_path / "data", model.url, prompts=fresh) as tg:
        data = tg.svc.settings.data_dir
        candidate = _netops(data, "add", str(_candidate(tmp_path, "Answer in one short sentence."))).strip()
        baseline = tg.svc.rollouts.in_force("t")
        _netops(data, "canary", candidate, "--tenant", "t", "--share", "1.0")
        assert netops_field(_ask(tg, "bgp down on r1", "c1"))["prompts"] == candidate
        assert netops(data, "kill", "prompt", candidate, "--reason", "echoes its instructions").returncode == 0
        until(lambda: netops_field(_ask(tg, "bgp down on r1", "c1"))["prompts"] == baseline, timeout=5)
        netops(data, "kill", "prompt", baseline, "--reason", "both off")
        until(lambda: _ask(tg, "bgp down on r1", "c1").status_code == 503, timeout=5)
        refused = _ask(tg, "bgp down on r1", "c2").json()
        assert refused["code"] == "killed" and "both off" in refused["detail"]
