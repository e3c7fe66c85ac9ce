"""Every request accounted for: exactly one final audit record per request, whatever path it leaves by.

The gateway here has its own model backend, `SlowBackend` (a double at our `routing.ModelBackend` interface)
that streams many small deltas slowly, so a client can go away mid-answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.demo import build_index
from gateway.settings import RetrievalSettings
from routing import Deployment, ModelRequest, StreamEnd, TextDelta
from routing.backend import ModelEvent
from routing.limits import Quota
from tests.conftest import TenantGateway, one_tenant_gateway

SECRET_VALUE = "leakyvalue4711"


class SlowBackend:
    """200 deltas, 10 ms apart, then the end of the stream."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        for i in range(200):
            await asyncio.sleep(0.01)
            yield TextDelta(f"word{i} ")
        yield StreamEnd("stop", 10, 200)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    root = Path(tmp_path_factory.mktemp("turn"))
    (root / "runbooks").mkdir()
    (root / "runbooks" / "bgp.md").write_text("# BGP neighbor down\n\nRun `bgp_summary` on the router.\n")
    retrieval = RetrievalSettings(sources=[root / "runbooks"], eval_set=None)
    with one_tenant_gateway(root / "data", "http://127.0.0.1:9/v1", SlowBackend(), retrieval=retrieval) as gw:
        gw.svc.tenants.create("narrow", models=["smollm2"], tools=["bgp_summary"], rpm=100)
        build_index(gw.svc, lambda _: None)
        yield gw


def _key(gw: TenantGateway, tenant: str = "t") -> str:
    return gw.key if tenant == "t" else gw.svc.tenants.create_key(tenant).plaintext


def _post(gw: TenantGateway, path: str, key: str | None, body: object, **kw: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{gw.url}{path}", json=body, headers=headers, timeout=60, **kw)


def _records(gw: TenantGateway, rid: str, *, wait: bool = False) -> list[dict[str, Any]]:
    """The request's records; with `wait`, once its final record is in (it is written after the response)."""
    final = ("request.", "chat.", "security.")
    deadline = time.monotonic() + (10 if wait else 0)
    while True:
        found = [r for r in gw.svc.audit.records(limit=200) if r["request_id"] == rid]
        if any(r["kind"].startswith(final) for r in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _final(gw: TenantGateway, response: httpx.Response) -> dict[str, Any]:
    (record,) = _records(gw, response.headers["x-request-id"], wait=True)
    return record


def _chat(model: str, *, stream: bool = False) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "is bgp up on r1?"}]}


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_and_forbidden_models_are_audited_as_rejected(gw: TenantGateway, stream: bool) -> None:
    unknown = _post(gw, "/v1/chat/completions", gw.key, _chat("no-such-model", stream=stream))
    assert unknown.status_code == 404
    record = _final(gw, unknown)
    assert (record["kind"], record["tenant"], record["payload"]["code"]) == ("request.rejected", "t", "model_not_found")
    narrow = _post(gw, "/v1/chat/completions", _key(gw, "narrow"), _chat("netops-assistant", stream=stream))
    assert narrow.status_code == 403
    record = _final(gw, narrow)
    assert record["kind"] == "request.rejected" and record["payload"]["code"] == "model_not_allowed"


def test_a_completed_answer_has_exactly_one_final_record(gw: TenantGateway) -> None:
    response = _post(gw, "/v1/chat/completions", gw.key, _chat("smollm2"))
    assert response.status_code == 200
    record = _final(gw, response)
    assert record["kind"] == "chat.completed" and record["payload"]["completion_tokens"] == 200


def test_a_client_gone_mid_stream_is_aborted_with_what_was_sent_and_budget_kept(gw: TenantGateway) -> None:
    gw.svc.tenants.create("budgeted", models=["*"], tools=[], rpm=100)
    quota = Quota(token_budget=1_000_000)
    gw.svc.tenants.set_quota("budgeted", quota)
    with httpx.stream(
        "POST",
        f"{gw.url}/v1/chat/completions",
        json=_chat("smollm2", stream=True),
        headers={"authorization": f"Bearer {_key(gw, 'budgeted')}"},
        timeout=60,
    ) as response:
        lines = response.iter_lines()
        while "word1" not in next(lines):
            pass
        rid = response.headers["x-request-id"]
    (record,) = _records(gw, rid, wait=True)
    assert record["kind"] == "request.aborted" and record["payload"]["code"] == "client_gone"
    assert 0 < record["payload"]["completion_chars"] < len("word100 ") * 200
    spent_tokens, _ = gw.svc.metering.store.spent("budgeted", quota)
    assert spent_tokens > 200  # usage unknown: the whole reservation stays booked, once


@pytest.mark.parametrize(
    ("key", "code"), [(None, "missing_key"), ("nk-000000000000-" + "x" * 32, "unknown_key"), ("garbage", "unknown_key")]
)
def test_unauthenticated_requests_are_security_events_without_key_material(
    gw: TenantGateway, key: str | None, code: str
) -> None:
    response = _post(gw, "/v1/retrieval/search", key, {"query": "bgp"})
    assert response.status_code == 401
    record = _final(gw, response)
    assert record["kind"] == "security.auth_failed" and record["payload"]["code"] == code
    assert record["payload"]["route"] == "/v1/retrieval/search"
    if key:
        assert key not in json.dumps(record) and "000000000000" not in json.dumps(record)


def test_invalid_forbidden_and_too_large_requests_leave_a_trace(gw: TenantGateway) -> None:
    invalid = _post(gw, "/v1/chat/completions", gw.key, {"model": "smollm2", "messages": []})
    assert invalid.status_code == 422 and _final(gw, invalid)["payload"]["code"] == "invalid_request"
    forbidden = httpx.get(f"{gw.url}/v1/routing/status", headers={"authorization": f"Bearer {gw.key}"})
    assert forbidden.status_code == 403
    assert _final(gw, forbidden)["payload"]["code"] == "forbidden"
    huge = _post(gw, "/v1/chat/completions", gw.key, {"model": "x" * 300_000})
    assert huge.status_code == 413 and _final(gw, huge)["payload"]["code"] == "request_too_large"


def test_search_and_scan_are_audited_without_their_text(gw: TenantGateway) -> None:
    search = _post(gw, "/v1/retrieval/search", gw.key, {"query": f"bgp neighbor {SECRET_VALUE}"})
    scan = _post(gw, "/v1/guardrails/scan", gw.key, {"text": f"snmp-server community {SECRET_VALUE} RO"})
    for response, route in ((search, "/v1/retrieval/search"), (scan, "/v1/guardrails/scan")):
        assert response.status_code == 200, response.text
        record = _final(gw, response)
        assert record["kind"] == "request.completed" and record["payload"]["route"] == route
        assert SECRET_VALUE not in json.dumps(record)
    assert _final(gw, scan)["payload"]["detail"]["verdicts"][0]["scanner"] == "secrets"


def test_tool_refusals_keep_no_argument_values(gw: TenantGateway) -> None:
    key = _key(gw, "narrow")
    response = _post(gw, "/v1/tools/bgp_summary/invoke", key, {"arguments": {"device": SECRET_VALUE}})
    assert response.status_code == 422 and response.json()["code"] == "unknown_device"
    records = _records(gw, response.headers["x-request-id"], wait=True)
    assert sorted(r["kind"] for r in records) == ["request.rejected", "tool.denied"]
    assert SECRET_VALUE not in json.dumps(records)
