"""Bad input never yields a 500, and a backend that dies mid-stream ends the stream cleanly."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import Deployment, DeploymentFailed, ModelRequest, StreamEnd, TextDelta
from tests.conftest import Gateway, TenantGateway, one_tenant_gateway

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["smollm2", "netops-assistant", "", "x" * 200]), "max_tokens": st.just(1)},
        optional={
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "system", "assistant", "tool", "root"])},
                    optional={"content": json_values},
                ),
                max_size=3,
            ),
            "stream": json_values,
            "temperature": json_values,
            "tool_choice": json_values,
        },
    ),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_bodies_never_get_a_500(gateway: Gateway, body: object) -> None:
    for path in ("/v1/chat/completions", "/v1/retrieval/search", "/v1/guardrails/scan"):
        response = httpx.post(
            f"{gateway.url}{path}",
            content=json.dumps(body),
            headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"},
            timeout=60,
        )
        assert response.status_code < 500 or response.json()["code"] in {"backend_unavailable"}, response.text
        assert response.headers["x-request-id"]


class DiesMidStream:
    """A model backend (our own protocol) that sends two deltas and then fails, as a crashing server would."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[TextDelta | StreamEnd]:
        yield TextDelta("Check the BGP ")
        yield TextDelta("neighbor state\n")
        raise DeploymentFailed(f"{deployment.name}: connection reset", deployment=deployment.name)


@pytest.fixture(scope="module")
def dying_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    with one_tenant_gateway(Path(tmp_path_factory.mktemp("dying")), "http://127.0.0.1:9/v1", DiesMidStream()) as gw:
        yield gw


def test_backend_dying_mid_stream_ends_the_stream_with_a_reason(dying_gateway: TenantGateway) -> None:
    url, key = dying_gateway.url, dying_gateway.key
    body = {"model": "smollm2", "stream": True, "messages": [{"role": "user", "content": "bgp down"}]}
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    ) as response:
        assert response.status_code == 200
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Check the BGP neighbor state\n"
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"
    assert chunks[-1]["netops"]["error"]["code"] == "deployment_failed"

    rid = response.headers["x-request-id"]
    (record,) = _final_records(dying_gateway, rid)
    assert record["kind"] == "request.aborted" and record["payload"]["code"] == "deployment_failed"
    assert record["payload"]["completion_chars"] == len(text)


def _final_records(gw: TenantGateway, rid: str) -> list[dict[str, Any]]:
    """The request's records once its final one is in (the Turn writes it after the response is sent)."""
    for _ in range(200):
        found = [r for r in gw.svc.audit.records(limit=50) if r["request_id"] == rid]
        if found:
            return found
        time.sleep(0.05)
    return []
