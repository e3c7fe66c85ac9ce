"""The fast path to OpenAI-compatible servers against the real llama.cpp server (the same answer litellm gets),
a scripted SSE server for tool calls and upstream errors, and `ProviderBackend`'s choice per provider."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route as StarletteRoute

from routing import (
    Deployment,
    DeploymentFailed,
    LiteLLMBackend,
    ModelBackend,
    ModelRequest,
    Route,
    StreamEnd,
    TextDelta,
)
from routing.openai_http import OpenAIHTTPBackend, ProviderBackend
from tests.conftest import ModelEndpoint, one_tenant_gateway
from tests.support import ThreadedServer, free_port

QUESTION = ModelRequest(
    messages=[{"role": "user", "content": "Name one routing protocol."}], max_tokens=24, temperature=0.0
)


async def collect(backend: ModelBackend, deployment: Deployment, request: ModelRequest) -> tuple[str, StreamEnd]:
    text, end = "", None
    try:
        async for event in backend.stream(deployment, request):
            if isinstance(event, TextDelta):
                text += event.text
            else:
                end = event
    finally:
        if isinstance(backend, OpenAIHTTPBackend | ProviderBackend):
            await backend.aclose()  # the pool belongs to this test's event loop
    assert end is not None
    return text, end


def test_the_fast_path_gets_what_litellm_gets_from_llama_cpp(model: ModelEndpoint) -> None:
    deployment = Deployment(name="local", model="smollm2-135m-instruct", base_url=model.direct_url)
    fast, fast_end = asyncio.run(collect(OpenAIHTTPBackend(), deployment, QUESTION))
    slow, slow_end = asyncio.run(collect(LiteLLMBackend(), deployment, QUESTION))
    assert fast and fast == slow  # greedy decoding: the same text either way
    assert fast_end.finish_reason == slow_end.finish_reason
    # llama.cpp's server reports no usage when streaming: both paths estimate it, the completion one token a chunk
    assert fast_end.prompt_tokens > 0 and 0 < fast_end.completion_tokens <= QUESTION.max_tokens


def sse(*chunks: dict[str, object]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def tool_piece(call: dict[str, object]) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}


@dataclass
class Upstream:
    url: str
    seen: list[dict[str, object]]  # the requests `/ok/v1` received: their bodies and Authorization header


def scripted_upstream(seen: list[dict[str, object]]) -> Starlette:
    """`/ok/v1`: a tool call in pieces and usage; `/busy/v1`: 503; `/garbled/v1`: a chunk that is not JSON;
    `/plain/v1`: a JSON completion where a stream was asked for; `/cut/v1`: a stream that stops mid-answer;
    `/stalls/v1`: one chunk, then 3 s of silence; `/late/v1`: no headers for 3 s."""

    async def ok(request: Request) -> Response:
        seen.append({"auth": request.headers.get("authorization"), **json.loads(await request.body())})
        body = sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Checking "}}]},
            tool_piece({"index": 0, "id": "c1", "function": {"name": "dns_lookup", "arguments": '{"name":'}}),
            tool_piece({"index": 0, "function": {"arguments": '"a.example"}'}}),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {"choices": [], "usage": {"prompt_tokens": 31, "completion_tokens": 9}},
        )

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def busy(_: Request) -> Response:
        return Response("overloaded: secret upstream detail", status_code=503)

    async def garbled(_: Request) -> Response:
        return Response(b"data: {not json\n\n", media_type="text/event-stream")

    async def plain(_: Request) -> Response:  # a stream asked for, a whole completion answered
        message = {"role": "assistant", "content": "BGP is up."}
        return JSONResponse({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    async def cut(_: Request) -> Response:  # the server went away mid-answer: no finish reason, no [DONE]
        chunk = {"choices": [{"index": 0, "delta": {"content": "BGP is"}}]}
        return Response(f"data: {json.dumps(chunk)}\n\n".encode(), media_type="text/event-stream")

    async def stalls(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': 'BGP is'}}]})}\n\n".encode()
            await asyncio.sleep(3)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def late(_: Request) -> Response:
        await asyncio.sleep(3)
        return Response(sse({"choices": [{"index": 0, "delta": {"content": "late"}}]}), media_type="text/event-stream")

    return Starlette(
        routes=[
            StarletteRoute("/stalls/v1/chat/completions", stalls, methods=["POST"]),
            StarletteRoute("/late/v1/chat/completions", late, methods=["POST"]),
            StarletteRoute("/ok/v1/chat/completions", ok, methods=["POST"]),
            StarletteRoute("/busy/v1/chat/completions", busy, methods=["POST"]),
            StarletteRoute("/garbled/v1/chat/completions", garbled, methods=["POST"]),
            StarletteRoute("/plain/v1/chat/completions", plain, methods=["POST"]),
            StarletteRoute("/cut/v1/chat/completions", cut, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    seen: list[dict[str, object]] = []
    server = ThreadedServer(scripted_upstream(seen)).start()
    yield Upstream(server.url, seen)
    server.stop()


def test_tool_calls_usage_and_the_request_body(upstream: Upstream) -> None:
    deployment = Deployment(
        name="vllm", provider="hosted_vllm", model="m", base_url=f"{upstream.url}/ok/v1", api_key=SecretStr("sk-up")
    )
    tools = [{"type": "function", "function": {"name": "dns_lookup", "parameters": {"type": "object"}}}]
    request = ModelRequest(messages=[{"role": "user", "content": "resolve"}], max_tokens=9, tools=tools)
    text, end = asyncio.run(collect(OpenAIHTTPBackend(), deployment, request))
    assert text == "Checking " and end.finish_reason == "tool_calls"
    assert (end.prompt_tokens, end.completion_tokens) == (31, 9)
    calls = [(c.id, c.name, json.loads(c.arguments)) for c in end.tool_calls]
    assert calls == [("c1", "dns_lookup", {"name": "a.example"})]
    sent = upstream.seen[-1]
    assert sent["auth"] == "Bearer sk-up" and sent["model"] == "m" and sent["stream"] is True
    assert sent["tool_choice"] == "auto" and sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("path", "kind", "malformed"),
    [
        ("busy", "HTTP 503", False),
        ("gone", "HTTP 404", False),
        ("garbled", "malformed chunk (JSONDecodeError)", True),
        ("plain", "not an event stream (application/json)", True),
        ("cut", "stream cut before its end", True),
    ],
)
def test_upstream_failures_are_deployment_failures_without_upstream_text(
    upstream: Upstream, path: str, kind: str, malformed: bool
) -> None:
    deployment = Deployment(name="gpu-a", model="m", base_url=f"{upstream.url}/{path}/v1")
    with pytest.raises(DeploymentFailed) as failed:
        asyncio.run(collect(OpenAIHTTPBackend(), deployment, QUESTION))
    assert failed.value.detail == f"gpu-a: {kind}" and failed.value.deployment == "gpu-a"
    assert failed.value.malformed is malformed  # it answered, with something that is not a completion stream


@pytest.mark.parametrize("stream", [True, False])
def test_a_json_answer_to_a_stream_request_is_a_502_not_an_empty_answer(
    upstream: Upstream, model: ModelEndpoint, tmp_path: Path, stream: bool
) -> None:
    deployments = [Deployment(name="gpu-a", model="m", base_url=f"{upstream.url}/plain/v1")]
    routes = [Route(name="plain", deployments=["gpu-a"], assistant=False)]
    with one_tenant_gateway(tmp_path, model.url, deployments=deployments, routes=routes) as gw:
        body = {"model": "plain", "stream": stream, "messages": [{"role": "user", "content": "Is BGP up on r1?"}]}
        response = httpx.post(
            f"{gw.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gw.key}"}, timeout=30
        )
    assert response.status_code == 502 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "backend_malformed" and problem["deployments"] == ["gpu-a"]
    assert "not an event stream" in problem["detail"] and "BGP is up" not in response.text


@pytest.mark.parametrize(("path", "kind"), [("stalls", "no data for 0.5 s"), ("late", "SocketTimeoutError")])
def test_an_upstream_that_goes_silent_fails_after_the_deployment_timeout(
    upstream: Upstream, path: str, kind: str
) -> None:
    deployment = Deployment(name="gpu-a", model="m", base_url=f"{upstream.url}/{path}/v1", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(DeploymentFailed) as failed:
        asyncio.run(collect(OpenAIHTTPBackend(), deployment, QUESTION))
    assert failed.value.detail == f"gpu-a: {kind}" and not failed.value.malformed
    assert 0.4 < time.monotonic() - started < 2.5  # the timeout, not the upstream's 3 s


def test_a_closed_port_is_a_connect_error() -> None:
    deployment = Deployment(name="gpu-b", model="m", base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(DeploymentFailed, match="gpu-b: ClientConnectorError"):
        asyncio.run(collect(OpenAIHTTPBackend(), deployment, QUESTION))


class Recording:
    """A translating backend double, registered through `ProviderBackend`'s own parameter."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[TextDelta | StreamEnd]:
        self.asked.append(deployment.name)
        yield StreamEnd("stop", 0, 0)


def test_provider_backend_sends_only_translated_providers_through_litellm(upstream: Upstream) -> None:
    fast = Deployment(name="vllm", provider="openai_compatible", model="m", base_url=f"{upstream.url}/ok/v1")
    claude = Deployment(name="claude", provider="anthropic", model="claude-sonnet-4", residency="hosted")
    translating = Recording()
    backend = ProviderBackend([fast, claude], translating=translating)
    asyncio.run(collect(backend, claude, QUESTION))
    text, _ = asyncio.run(collect(backend, fast, QUESTION))
    assert translating.asked == ["claude"] and text == "Checking "
    assert ProviderBackend([fast])._translating is None  # no litellm import when no deployment needs it
