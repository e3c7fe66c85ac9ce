"""Every error is RFC 9457 problem+json with a stable code, and every response carries x-request-id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.demo import build_index
from gateway.settings import RetrievalSettings
from routing import Deployment, Route
from tests.conftest import Gateway, ModelEndpoint, TenantGateway, one_tenant_gateway
from tests.support import free_port


def post_chat(gateway_url: str, key: str, body: object) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=60
    )


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status and body["type"] and body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_model_not_allowed_is_403(gateway: Gateway) -> None:
    gateway.svc.tenants.create("narrow", models=["smollm2"], tools=[], rpm=100)
    key = gateway.svc.tenants.create_key("narrow").plaintext
    body = {"model": "netops-assistant", "messages": [{"role": "user", "content": "hi"}]}
    assert_problem(post_chat(gateway.url, key, body), 403, "model_not_allowed")
    models = httpx.get(f"{gateway.v1}/models", headers={"authorization": f"Bearer {key}"}).json()
    assert [m["id"] for m in models["data"]] == ["smollm2"]


def test_unknown_model_is_404(gateway: Gateway) -> None:
    body = {"model": "gpt-17", "messages": [{"role": "user", "content": "hi"}]}
    assert_problem(post_chat(gateway.url, gateway.key, body), 404, "model_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "netops-assistant"}, "messages"),
        ({"model": "netops-assistant", "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
        ({"model": "netops-assistant", "messages": [], "stream": True}, "messages"),
        (
            {"model": "netops-assistant", "messages": [{"role": "user", "content": "x"}], "temperature": 9},
            "temperature",
        ),
    ],
)
def test_invalid_body_is_422_naming_the_field(gateway: Gateway, body: object, field: str) -> None:
    problem = assert_problem(post_chat(gateway.url, gateway.key, body), 422, "invalid_request")
    assert field in [e["field"] for e in problem["errors"]]  # type: ignore[attr-defined]


def test_malformed_json_is_422(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.v1}/chat/completions",
        content=b"{not json",
        headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"},
    )
    assert_problem(response, 422, "invalid_request")


def test_missing_and_revoked_keys_are_401(gateway: Gateway) -> None:
    body = {"model": "netops-assistant", "messages": [{"role": "user", "content": "hi"}]}
    assert_problem(httpx.post(f"{gateway.v1}/chat/completions", json=body), 401, "missing_key")
    issued = gateway.svc.tenants.create_key("demo", label="to-revoke")
    gateway.svc.tenants.revoke_key(issued.key_id)
    assert_problem(post_chat(gateway.url, issued.plaintext, body), 401, "revoked_key")


def test_rate_limit_is_429_with_retry_after(gateway: Gateway) -> None:
    gateway.svc.tenants.create("tiny", models=["*"], tools=[], rpm=2)
    key = gateway.svc.tenants.create_key("tiny").plaintext
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    statuses = [post_chat(gateway.url, key, body) for _ in range(3)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    assert_problem(statuses[2], 429, "rate_limited")
    assert int(statuses[2].headers["retry-after"]) >= 1


def test_unknown_path_and_method_are_problems(gateway: Gateway) -> None:
    assert_problem(httpx.get(f"{gateway.url}/nope"), 404, "not_found")
    assert_problem(httpx.get(f"{gateway.v1}/chat/completions"), 405, "method_not_allowed")


def test_request_id_is_echoed_or_assigned(gateway: Gateway) -> None:
    mine = httpx.get(f"{gateway.url}/healthz", headers={"x-request-id": "noc-ticket-4711"})
    assert mine.headers["x-request-id"] == "noc-ticket-4711"
    assigned = httpx.get(f"{gateway.url}/healthz", headers={"x-request-id": "bad id with spaces"})
    assert len(assigned.headers["x-request-id"]) == 32


def test_readyz_reports_each_dependency(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["model:local-smollm2"]["ok"] and checks["store"]["ok"] and checks["index"]["ok"]
    assert checks["index"]["chunks"] > 100


def test_metrics_are_prometheus_text_for_the_operator_only(gateway: Gateway) -> None:
    httpx.get(f"{gateway.url}/healthz")
    anonymous = httpx.get(f"{gateway.url}/metrics")
    assert anonymous.status_code == 401 and "demo" not in anonymous.text
    tenant_admin = httpx.get(f"{gateway.url}/metrics", headers={"authorization": f"Bearer {gateway.key}"})
    assert tenant_admin.status_code == 403 and "demo" not in tenant_admin.text
    text = httpx.get(f"{gateway.url}/metrics", headers={"authorization": f"Bearer {gateway.operator}"}).text
    assert 'netops_requests_total{path="/healthz",status="200"}' in text


@pytest.fixture(scope="module")
def dead_backend_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with one_tenant_gateway(Path(tmp_path_factory.mktemp("dead")), dead) as gateway:
        yield gateway


def test_backend_down_is_503_naming_the_deployment(dead_backend_gateway: TenantGateway) -> None:
    url, key = dead_backend_gateway.url, dead_backend_gateway.key
    for stream in (False, True):
        body = {"model": "smollm2", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
        problem = assert_problem(post_chat(url, key, body), 503, "backend_unavailable")
        assert problem["deployments"] == ["local-smollm2"]
    assert httpx.get(f"{url}/readyz").status_code == 503


def test_readyz_is_degraded_not_down_while_a_fallback_serves(model: ModelEndpoint, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    deployments = [
        Deployment(name="primary", model="smollm2-135m-instruct", base_url=dead),
        Deployment(name="fallback", model="smollm2-135m-instruct", base_url=model.url),
    ]
    routes = [  # one route whose only deployment is dead, served by its fallback route; one with both
        Route(name="gpu", deployments=["primary"], fallbacks=["spare"], assistant=False),
        Route(name="spare", deployments=["fallback"], assistant=False),
        Route(name="both", deployments=["primary", "fallback"], assistant=False),
    ]
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "dns.md").write_text("# DNS\n\nCheck the resolver with `dig`.\n")
    retrieval = RetrievalSettings(sources=[tmp_path / "runbooks"], eval_set=None)
    with one_tenant_gateway(
        tmp_path / "data", model.url, deployments=deployments, routes=routes, retrieval=retrieval
    ) as gw:
        build_index(gw.svc, lambda _: None)
        ready = httpx.get(f"{gw.url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text  # every request is served: a load balancer keeps it
        body = ready.json()
        assert body["status"] == "degraded" and body["degraded_routes"] == ["both", "gpu"]
        gpu = {"ok": True, "up": ["fallback"], "down": ["primary"], "degraded": True, "served_by": "fallback"}
        assert body["routes"]["gpu"] == gpu and body["routes"]["both"]["served_by"] == "own"
        assert body["routes"]["spare"] == {
            "ok": True,
            "up": ["fallback"],
            "down": [],
            "degraded": False,
            "served_by": "own",
        }
        assert not body["checks"]["model:primary"]["ok"]

        for stream in (False, True):  # the answer says who served it and why, streamed or not
            chat = {"model": "gpu", "stream": stream, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
            report = netops_field(post_chat(gw.url, gw.key, chat))
            degraded = report["degraded"]
            assert degraded["from"] == "primary" and degraded["to"] == "fallback" and degraded["reason"]
        served = {"route": "gpu", "from_deployment": "primary", "to_deployment": "fallback"}
        assert gw.svc.metrics.registry.get_sample_value("netops_degraded_answers_total", served) == 2


def sse_chunks(text: str) -> list[dict[str, Any]]:
    """The JSON events of a streamed chat completion, in order."""
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data: {")]


def netops_field(response: httpx.Response) -> dict[str, Any]:
    """The `netops` field of a chat completion, JSON or the last event of a stream."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/json"):
        return dict(response.json()["netops"])
    return dict(next(e["netops"] for e in reversed(sse_chunks(response.text)) if "netops" in e))
