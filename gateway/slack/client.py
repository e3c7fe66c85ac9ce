"""The bot's client of the gateway's HTTP API, one method per endpoint it uses. Every call presents the Slack
user's own key and names the Slack channel (`x-netops-channel`), so the gateway records who and where.

A problem response becomes `GatewayRefused` (status, stable code, retry-after); the streamed chat yields
`Progress` (checks as they run), `Delta` (guarded answer text) and one final `Done` (the `netops` report).

Example:
    gw = GatewayClient("http://127.0.0.1:8080")
    async with gw.chat(key, "C1", [{"role": "user", "content": "BGP down on r1"}], max_tokens=128) as answer:
        async for item in answer:
            ...
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.slack.errors import GatewayRefused

__all__ = ["Delta", "Done", "GatewayClient", "Progress", "StreamItem"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: `{"event": "check.start" | "check.end" | "findings", ...}`."""

    netops: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """The end of an answer: finish reason and the gateway's report (findings, checks, citations, warnings...)."""

    finish_reason: str
    netops: dict[str, Any] = field(default_factory=dict)


StreamItem = Progress | Delta | Done


@dataclass
class ChatStream:
    """An open answer: the gateway's request id, then its items."""

    request_id: str
    items: AsyncIterator[StreamItem]

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self.items


class GatewayClient:
    """One pooled HTTP client to the gateway."""

    def __init__(self, base_url: str, *, timeout: float = 180.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    @asynccontextmanager
    async def chat(
        self, key: str, channel: str, messages: list[dict[str, str]], *, max_tokens: int, conversation: str = ""
    ) -> AsyncIterator[ChatStream]:
        """Open a streamed answer; a refusal before the first byte raises `GatewayRefused`. `conversation` (the
        Slack thread) keeps a thread on one prompt version during a canary rollout."""
        body = {"model": "netops-assistant", "stream": True, "max_tokens": max_tokens, "messages": messages}
        headers = {**_headers(key, channel), **({"x-netops-conversation": conversation} if conversation else {})}
        request = self._http.build_request("POST", "/v1/chat/completions", json=body, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                raise _refused(response)
            yield ChatStream(response.headers.get("x-request-id", ""), _items(response))
        finally:
            await response.aclose()

    async def scan(self, key: str, channel: str, text: str) -> dict[str, Any]:
        """The tenant's input guardrails over a text: `{"text": redacted, "verdicts": [...]}`."""
        return await self._call("POST", "/v1/guardrails/scan", key, channel, {"text": text, "stage": "input"})

    async def search(self, key: str, channel: str, query: str, top_k: int = 5) -> dict[str, Any]:
        return await self._call("POST", "/v1/retrieval/search", key, channel, {"query": query, "top_k": top_k})

    async def invoke(self, key: str, channel: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"/v1/tools/{tool}/invoke", key, channel, {"arguments": arguments})

    async def action(self, key: str, channel: str, action_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/tools/actions/{action_id}", key, channel)

    async def decide(self, key: str, channel: str, action_id: str, decision: str) -> dict[str, Any]:
        """`decision` is `approve` or `deny`; the gateway enforces roles and the two-person rule."""
        return await self._call("POST", f"/v1/tools/actions/{action_id}/{decision}", key, channel)

    async def models(self, key: str, channel: str) -> dict[str, Any]:
        return await self._call("GET", "/v1/models", key, channel)

    async def inventory(self, key: str, channel: str) -> dict[str, Any]:
        return await self._call("GET", "/v1/inventory", key, channel)

    async def readiness(self) -> dict[str, Any]:
        """`/readyz` (no key): each model deployment, the store and the index."""
        response = await self._http.get("/readyz")
        data: dict[str, Any] = response.json()
        return data

    async def _call(
        self, method: str, path: str, key: str, channel: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self._http.request(method, path, json=body, headers=_headers(key, channel))
        if response.status_code >= 400:
            raise _refused(response)
        data: dict[str, Any] = response.json()
        data["_request_id"] = response.headers.get("x-request-id", "")
        return data


def _headers(key: str, channel: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", "x-netops-channel": channel}


def _refused(response: httpx.Response) -> GatewayRefused:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    retry = response.headers.get("retry-after")
    return GatewayRefused(
        response.status_code,
        str(problem.get("code", f"http_{response.status_code}")),
        str(problem.get("detail", response.reason_phrase)),
        float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
    )


async def _items(response: httpx.Response) -> AsyncIterator[StreamItem]:
    async for line in response.aiter_lines():
        if not line.startswith("data: {"):
            continue
        chunk = json.loads(line[6:])
        netops = chunk.get("netops") or {}
        choices = chunk.get("choices") or []
        if not choices:
            yield Progress(netops)
            continue
        choice = choices[0]
        if choice.get("finish_reason"):
            if "error" in netops:
                raise GatewayRefused(200, netops["error"]["code"], netops["error"]["detail"])
            yield Done(choice["finish_reason"], netops)
            return
        text = (choice.get("delta") or {}).get("content")
        if text:
            yield Delta(text)
