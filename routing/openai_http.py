"""The fast path to OpenAI-compatible servers (llama.cpp, vLLM, OpenAI itself): one pooled async HTTP client,
the Chat Completions request written and its SSE stream read directly, no provider translation.

The client is aiohttp's, not httpx's: measured against the same nginx mock (8 concurrent streams, uvloop),
httpx spent 1.3 ms of CPU per request and aiohttp 0.16 ms (httpcore checks every pooled connection's socket on
each request); see docs/performance.md.

Usage comes from the stream's `usage` chunk (`stream_options.include_usage`). A server that sends none (llama.cpp's
Python server) gets an estimate, as litellm makes one: the prompt at 4 characters a token, the completion as one
token per content chunk (how llama.cpp and vLLM stream).

`routing.backend.LiteLLMBackend` stays the path for providers that need translation (Anthropic); `ProviderBackend`
picks one per deployment, and imports litellm only if some deployment needs it. Both implement
`routing.backend.ModelBackend` and yield the same events; a failure is a `DeploymentFailed` naming the deployment
and the kind of error (`gpu-a: ClientConnectorError`, `gpu-a: HTTP 503`), never the upstream's text.

The client keeps connections alive per event loop (a session is bound to the loop that opened it): one pool
for the gateway's loop, others only for tests or tools that run their own loops.

Example:
    backend = ProviderBackend(table.deployments.values())
    async for event in backend.stream(deployment, ModelRequest(messages=[...], max_tokens=64)):
        ...
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import aiohttp
import orjson

from routing.backend import LiteLLMBackend, ModelBackend, ModelEvent, ModelRequest, StreamEnd, TextDelta, ToolCall
from routing.errors import DeploymentFailed
from routing.router import estimate_prompt_tokens
from routing.table import Deployment

__all__ = ["FAST_PROVIDERS", "OpenAIHTTPBackend", "ProviderBackend"]

FAST_PROVIDERS = frozenset({"openai_compatible", "hosted_vllm", "openai"})
_OPENAI_URL = "https://api.openai.com/v1"


class OpenAIHTTPBackend:
    """Streams Chat Completions from an OpenAI-compatible server over a pooled aiohttp session."""

    def __init__(self, *, keepalive_s: float = 30.0) -> None:
        self._keepalive_s = keepalive_s
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_s)  # limit: max_concurrency
            client = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the pool of the running loop (the others close with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        try:
            async for event in self._stream(deployment, request):
                yield event
        except DeploymentFailed:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeploymentFailed(f"{deployment.name}: {type(exc).__name__}", deployment=deployment.name) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a chunk that is not a completion chunk
            detail = f"{deployment.name}: malformed chunk ({type(exc).__name__})"
            raise DeploymentFailed(detail, deployment=deployment.name, malformed=True) from exc

    async def _stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        url = f"{(deployment.base_url or _OPENAI_URL).rstrip('/')}/chat/completions"
        headers = {
            "authorization": f"Bearer {deployment.api_key.get_secret_value()}",
            "content-type": "application/json",
            "accept": "text/event-stream",
        }
        body = orjson.dumps(_body(deployment, request))
        wait = deployment.timeout_s
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=wait, sock_read=wait)  # sock_read: to the headers
        async with self._client().post(url, data=body, headers=headers, timeout=timeout) as response:
            if response.status != 200:
                raise DeploymentFailed(f"{deployment.name}: HTTP {response.status}", deployment=deployment.name)
            reader = _ChunkReader()
            done = False
            with _Silence(response, wait, deployment.name) as silence:  # a stall ends the stream as a failure
                async for data in _event_data(response.content, silence.heard):  # to the end: the pool keeps it
                    if data == b"[DONE]":
                        done = True
                        continue
                    text = reader.feed(orjson.loads(data))
                    if text:
                        yield TextDelta(text)
            if not reader.chunks:  # a JSON body, an HTML error page: nothing streamed is not an empty answer
                kind = response.headers.get("content-type", "no content type")
                raise DeploymentFailed(
                    f"{deployment.name}: not an event stream ({kind})", deployment=deployment.name, malformed=True
                )
            if not (done or reader.finished):
                raise DeploymentFailed(
                    f"{deployment.name}: stream cut before its end", deployment=deployment.name, malformed=True
                )
            yield reader.end(request)


class _Silence:
    """Closes a response whose body has said nothing for `seconds`: a stalled upstream fails the stream instead of
    holding it. One timer per stream, re-armed only when it comes due (a chunk just moves the deadline): aiohttp's
    `sock_read` reschedules a timer on every chunk, which measured 8 % of a worker's CPU at 600 streams. The wait
    for the headers keeps `sock_read`; it is switched off for the body once the headers are in."""

    def __init__(self, response: aiohttp.ClientResponse, seconds: float, deployment: str) -> None:
        self._response = response
        self._seconds = seconds
        self._deployment = deployment
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self.expired = False
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.read_timeout = None  # this request only: aiohttp sets it again for the next
        self._timer = self._loop.call_at(self._last + seconds, self._due)

    def __enter__(self) -> _Silence:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._timer.cancel()
        if self.expired and (exc is None or isinstance(exc, aiohttp.ClientError)):  # the read we cut short
            detail = f"{self._deployment}: no data for {self._seconds:g} s"
            raise DeploymentFailed(detail, deployment=self._deployment) from exc

    def heard(self) -> None:
        self._last = self._loop.time()

    def _due(self) -> None:
        deadline = self._last + self._seconds
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._due)
            return
        self.expired = True
        self._response.close()


async def _event_data(body: aiohttp.StreamReader, heard: Callable[[], None]) -> AsyncIterator[bytes]:
    """The `data:` fields of an SSE body, as they arrive. Each network read is split into lines here: a stream
    delivers one event per read, and aiohttp's `readline` costs more per event than the split."""
    rest = b""
    async for received in body.iter_any():
        heard()
        lines = (rest + received).split(b"\n") if rest else received.split(b"\n")
        rest = lines.pop()  # an unfinished line waits for the next read
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if rest.startswith(b"data:"):
        yield rest[5:].strip()


class _ChunkReader:
    """Folds `chat.completion.chunk` objects: text deltas out, tool-call pieces, finish reason and usage kept."""

    def __init__(self) -> None:
        self.finish = "stop"
        self.finished = False  # a finish_reason was seen
        self.chunks = 0
        self.usage: tuple[int, int] | None = None
        self.pieces = 0  # content chunks: the completion's tokens when the server reports no usage
        self.calls: dict[int, dict[str, str]] = {}

    def feed(self, chunk: dict[str, Any]) -> str:
        self.chunks += 1
        usage = chunk.get("usage")
        if usage:
            self.usage = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish, self.finished = choice["finish_reason"], True
        delta = choice.get("delta") or {}
        for tc in delta.get("tool_calls") or []:
            slot = self.calls.setdefault(int(tc.get("index") or 0), {"id": "", "name": "", "arguments": ""})
            function = tc.get("function") or {}
            slot["id"] = tc.get("id") or slot["id"]
            slot["name"] = function.get("name") or slot["name"]
            slot["arguments"] += function.get("arguments") or ""
        content = delta.get("content")
        if not isinstance(content, str) or not content:
            return ""
        self.pieces += 1
        return content

    def end(self, request: ModelRequest) -> StreamEnd:
        calls = tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], _as_json_text(c["arguments"]))
            for i, c in sorted(self.calls.items())
        )
        prompt, completion = self.usage or (estimate_prompt_tokens(request), self.pieces + len(self.calls))
        return StreamEnd(self.finish, prompt, completion, calls)


class ProviderBackend:
    """One backend per deployment: the fast path for OpenAI-compatible providers, litellm for the others.

    litellm is imported here, at start-up, only when some deployment needs it (`translating` overrides it).
    """

    def __init__(
        self,
        deployments: Iterable[Deployment],
        *,
        fast: OpenAIHTTPBackend | None = None,
        translating: ModelBackend | None = None,
    ) -> None:
        self.fast = fast or OpenAIHTTPBackend()
        needs_translation = any(d.provider not in FAST_PROVIDERS for d in deployments)
        self._translating = translating or (LiteLLMBackend() if needs_translation else None)

    async def aclose(self) -> None:
        """Close the fast path's pool of the running loop."""
        await self.fast.aclose()

    def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if deployment.provider in FAST_PROVIDERS:
            return self.fast.stream(deployment, request)
        if self._translating is None:  # a deployment added after start-up: import litellm now, once
            self._translating = LiteLLMBackend()
        return self._translating.stream(deployment, request)


def _body(deployment: Deployment, request: ModelRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": deployment.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.tools:
        body["tools"] = request.tools
        body["tool_choice"] = request.tool_choice or "auto"
    if request.response_format:
        body["response_format"] = _response_format(deployment, request.response_format)
    return body


def _response_format(deployment: Deployment, requested: dict[str, Any]) -> dict[str, Any]:
    """`response_format` in the deployment's dialect: OpenAI and vLLM (`openai`, `hosted_vllm`) take OpenAI's
    form; a generic OpenAI-compatible server (llama.cpp's) takes the schema inside `json_object`, which its
    server turns into a grammar."""
    if deployment.provider != "openai_compatible" or requested.get("type") != "json_schema":
        return requested
    return {"type": "json_object", "schema": requested["json_schema"]["schema"]}


def _as_json_text(arguments: str) -> str:
    """Tool arguments as `routing.backend` renders them (json.dumps), or as received when they are not JSON."""
    try:
        return json.dumps(json.loads(arguments or "{}"))
    except json.JSONDecodeError:
        return arguments
