"""The HTTP edge: no 5xx from any bytes, handled errors keep the connection alive and print no traceback,
every response is counted by route template and logged once as JSON, and the OpenAPI document describes
every body."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Gateway

BODY_PATHS = ("/v1/chat/completions", "/v1/retrieval/search", "/v1/guardrails/scan", "/v1/tools/bgp_summary/invoke")


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_log() -> Iterator[Captured]:
    """What uvicorn and the gateway log while the test runs (the server runs in this process)."""
    handler = Captured()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "netops.gateway", "netops.access")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _post(gateway: Gateway, path: str, content: bytes) -> httpx.Response:
    headers = {"authorization": f"Bearer {gateway.key}", "content-type": "application/json"}
    return httpx.post(f"{gateway.url}{path}", content=content, headers=headers, timeout=60)


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_nesting_is_a_400(gateway: Gateway, path: str, depth: int) -> None:
    _problem(_post(gateway, path, b"[" * depth + b"]" * depth), 400, "too_deeply_nested")
    depth = min(depth, 30_000)  # inside the body limit
    nested = b'{"query": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    _problem(_post(gateway, path, nested), 400, "too_deeply_nested")


@pytest.mark.parametrize("path", BODY_PATHS)
def test_invalid_utf8_and_lone_surrogates_are_400(gateway: Gateway, path: str) -> None:
    _problem(_post(gateway, path, b'{"query": "bgp \xff\xfe down"}'), 400, "invalid_encoding")
    chat = b'{"model": "smollm2", "messages": [{"role": "user", "content": "bgp \\ud800 down"}]}'
    _problem(_post(gateway, path, chat), 400, "invalid_unicode")
    paired = b'{"model": "smollm2", "messages": [{"role": "user", "content": "\\ud83d\\ude00 \\\\ud800"}]}'
    assert _post(gateway, "/v1/guardrails/scan", paired).status_code == 422  # a valid pair, escaped text: no 400


def test_handled_errors_keep_the_connection_alive_and_log_no_traceback(gateway: Gateway, server_log: Captured) -> None:
    svc = gateway.svc
    svc.tenants.create("onerpm", models=["*"], tools=[], rpm=1)
    limited = svc.tenants.create_key("onerpm").plaintext
    ask = {"model": "smollm2", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{gateway.v1}/chat/completions", json=ask, headers=_auth(limited), timeout=60).is_success
    ports: set[int] = set()

    def remember_port(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        ports.add(stream.get_extra_info("client_addr")[1])

    with httpx.Client(base_url=gateway.v1, timeout=60, event_hooks={"response": [remember_port]}) as client:
        assert client.post("/chat/completions", json=ask, headers=_auth("nk-bad")).status_code == 401
        assert client.post("/chat/completions", json={"model": 1}, headers=_auth(gateway.key)).status_code == 422
        assert client.post("/chat/completions", json=ask, headers=_auth(limited)).status_code == 429
        assert client.post("/chat/completions", json=ask, headers=_auth(gateway.key)).status_code == 200
    assert len(ports) == 1, "every request went over one keep-alive connection"
    assert not [r for r in server_log.records if r.exc_info or "Exception in ASGI" in r.getMessage()]


def test_every_response_is_counted_by_route_template_and_logged_once(gateway: Gateway, server_log: Captured) -> None:
    httpx.post(f"{gateway.v1}/chat/completions", json={}, headers=_auth("nk-nope"))
    httpx.post(f"{gateway.v1}/tools/not_a_tool_abc/invoke", json={"arguments": {}}, headers=_auth(gateway.key))
    metrics = httpx.get(f"{gateway.url}/metrics", headers=_auth(gateway.operator)).text
    assert 'netops_requests_total{path="/v1/chat/completions",status="401"}' in metrics
    assert 'netops_requests_total{path="/v1/tools/{name}/invoke",status="403"}' in metrics
    assert "not_a_tool_abc" not in metrics
    lines = [json.loads(r.getMessage()) for r in server_log.records if r.name == "netops.access"]
    by_route = {(line["route"], line["status"]): line for line in lines}
    unauth = by_route[("/v1/chat/completions", 401)]
    assert unauth["tenant"] == "-" and unauth["audit"] == "security.auth_failed" and unauth["code"] == "unknown_key"
    invoke = by_route[("/v1/tools/{name}/invoke", 403)]
    assert invoke["tenant"] == "demo" and invoke["audit"] == "request.rejected" and invoke["latency_ms"] >= 0
    assert all(len(line["request_id"]) >= 8 for line in lines)
    assert not [r for r in server_log.records if gateway.key in r.getMessage()]


def test_the_openapi_document_describes_every_body(gateway: Gateway) -> None:
    doc = httpx.get(f"{gateway.url}/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for path in BODY_PATHS:
        template = path.replace("bgp_summary", "{name}")
        operation = doc["paths"][template]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in schemas
        assert "application/json" in operation["responses"]["200"]["content"]
        assert "application/problem+json" in operation["responses"]["401"]["content"]
    assert "messages" in schemas["ChatCompletionRequest"]["properties"]
    assert schemas["ChatMessage"]["properties"]["role"]["enum"]


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
