"""The real gateway driven by the real OpenAI SDK and LangChain's ChatOpenAI, against the real local model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pydantic
import pytest
from langchain_openai import ChatOpenAI

from tests.conftest import Gateway, ModelEndpoint

SECRET = "s3cr3tC0mm"


def client(gateway: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=key or gateway.key, max_retries=0)


def test_non_streaming_completion_returns_model_text_with_citations(gateway: Gateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="netops-assistant",
        messages=[{"role": "user", "content": "A BGP session to our upstream is flapping. What do I check?"}],
        max_tokens=40,
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    extra = reply.model_extra or {}
    citations = extra["netops"]["citations"]
    assert citations and all({"path", "heading", "index_version"} <= set(c) for c in citations)


def test_streaming_completion_returns_model_text(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Say hello to the NOC team."}],
        max_tokens=30,
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}


def test_langchain_chat_openai_invoke_and_stream(gateway: Gateway) -> None:
    llm = ChatOpenAI(base_url=gateway.v1, api_key=gateway.key, model="netops-assistant", max_tokens=30, max_retries=0)
    answer = llm.invoke("What does OSPF adjacency stuck in ExStart usually mean?")
    assert isinstance(answer.content, str) and answer.content.strip()
    streamed = "".join(str(chunk.content) for chunk in llm.stream("Name one cause of interface CRC errors."))
    assert streamed.strip()


def test_bad_key_gets_401_problem_json(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(gateway, key="nk-000000000000-not-a-real-key-at-all").chat.completions.create(
            model="netops-assistant", messages=[{"role": "user", "content": "hi"}]
        )
    response = caught.value.response
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unknown_key"
    assert response.headers["x-request-id"]


def test_oversized_prompt_gets_413(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(
            model="netops-assistant", messages=[{"role": "user", "content": "interface Gi0/1 up " * 3000}]
        )
    assert caught.value.status_code == 413
    assert caught.value.response.json()["code"] == "input_too_large"


def test_oversized_body_gets_413_before_parsing(gateway: Gateway) -> None:
    body = {"model": "netops-assistant", "messages": [{"role": "user", "content": "x" * 300_000}]}
    response = httpx.post(
        f"{gateway.v1}/chat/completions", json=body, headers={"authorization": f"Bearer {gateway.key}"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_secret_in_prompt_never_reaches_model_or_audit_in_clear(gateway: Gateway, model: ModelEndpoint) -> None:
    config = f"interface Gi0/0\n ip address 192.0.2.1 255.255.255.0\nsnmp-server community {SECRET} RO\n"
    for stream in (False, True):
        result = client(gateway).chat.completions.create(
            model="netops-assistant",
            stream=stream,
            max_tokens=30,
            messages=[{"role": "user", "content": f"Why does SNMP polling fail? Config:\n{config}"}],
        )
        if stream:
            list(result)
    assert SECRET not in model.request_log.read_text()
    assert "<SECRET:snmp-community:1>" in model.request_log.read_text()
    records = gateway.svc.audit.records(limit=1000)
    assert SECRET not in json.dumps(records)
    assert any(r["payload"].get("verdicts") for r in records)


class Verdict(pydantic.BaseModel):
    supported: bool
    reason: str


def _last_forwarded(model: ModelEndpoint) -> dict[str, Any]:
    """The last request body the model server received (its recording proxy's log)."""
    bodies: list[dict[str, Any]] = [
        json.loads(ln) for ln in model.request_log.read_text().splitlines() if ln[:1] == "{"
    ]
    return bodies[-1]


def test_structured_output_follows_the_schema_through_llama_cpp(gateway: Gateway, model: ModelEndpoint) -> None:
    # The SDK's parse() sends OpenAI's json_schema form; the gateway hands llama.cpp the schema inside json_object
    # (its grammar form), so even a 135M model answers with JSON that validates.
    reply = client(gateway).chat.completions.parse(
        model="smollm2",
        messages=[{"role": "user", "content": "Is 'BGP uses TCP port 179' true? Answer in JSON."}],
        response_format=Verdict,
        max_tokens=120,
        temperature=0,
    )
    assert isinstance(reply.choices[0].message.parsed, Verdict)
    body = _last_forwarded(model)
    assert body["response_format"]["type"] == "json_object"
    assert body["response_format"]["schema"]["required"] == ["supported", "reason"]
    plain = client(gateway).chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Name a routing protocol, as a JSON object."}],
        response_format={"type": "json_object"},
        max_tokens=60,
        temperature=0,
    )
    assert _last_forwarded(model)["response_format"] == {"type": "json_object"}
    content = plain.choices[0].message.content or ""
    if plain.choices[0].finish_reason == "stop":  # a 135M model may ramble on in JSON until max_tokens cuts it
        assert isinstance(json.loads(content), dict)
    else:
        assert content.lstrip().startswith("{")


@pytest.mark.parametrize(
    "response_format",
    [{"type": "xml"}, {"type": "json_schema"}, {"type": "json_schema", "json_schema": {"schema": "x"}}],
)
def test_a_bad_response_format_gets_422_problem_json(gateway: Gateway, response_format: dict[str, object]) -> None:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "response_format": response_format}
    response = httpx.post(
        f"{gateway.v1}/chat/completions", json=body, headers={"authorization": f"Bearer {gateway.key}"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
