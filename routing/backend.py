"""The model-backend edge: the only module that imports litellm.

`ModelBackend` is the contract the pipeline calls; `LiteLLMBackend` reaches OpenAI-compatible
servers (llama.cpp, vLLM) and hosted providers through litellm's client (never `litellm.proxy`).
A test double registers by implementing the same protocol.

Example:
    backend = LiteLLMBackend()
    async for event in backend.stream(deployment, ModelRequest(messages=[...], max_tokens=64)):
        ...
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from routing.errors import DeploymentFailed
from routing.table import Deployment

__all__ = ["LiteLLMBackend", "ModelBackend", "ModelRequest", "StreamEnd", "TextDelta", "ToolCall"]

_PREFIX = {
    "openai_compatible": "openai",
    "hosted_vllm": "hosted_vllm",
    "openai": "openai",
    "anthropic": "anthropic",
}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model proposed (arguments still unvalidated JSON text)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What the pipeline asks a model for."""

    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | str | None = None
    response_format: dict[str, Any] | None = None  # OpenAI's form: json_object, or json_schema with its schema


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()


ModelEvent = TextDelta | StreamEnd


class ModelBackend(Protocol):
    """Streams a completion from one deployment; raises on failure before or during the stream."""

    def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...


class LiteLLMBackend:
    """Calls any deployment through litellm's async client."""

    def __init__(self) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map fetch at import
        import litellm  # noqa: PLC0415 - a 3 s import: done once, at start-up

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self._litellm = litellm

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        try:
            async for event in self._stream(deployment, request):
                yield event
        except Exception as exc:
            raise DeploymentFailed(f"{deployment.name}: {type(exc).__name__}", deployment=deployment.name) from exc

    async def _stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        kwargs: dict[str, Any] = {
            "model": f"{_PREFIX[deployment.provider]}/{deployment.model}",
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": deployment.timeout_s,
            "api_key": deployment.api_key.get_secret_value(),
            "num_retries": 0,
            "max_retries": 0,  # no hidden retries in the provider SDK: the router retries, before the first byte
        }
        if deployment.base_url:
            kwargs["api_base"] = deployment.base_url
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.tools:
            kwargs["tools"] = request.tools
            kwargs["tool_choice"] = request.tool_choice or "auto"
        if request.response_format:
            kwargs["response_format"] = request.response_format  # litellm translates it per provider
        response = await self._litellm.acompletion(**kwargs)
        calls: dict[int, dict[str, str]] = {}
        finish, usage = "stop", (0, 0)
        async for chunk in response:
            if getattr(chunk, "usage", None):
                usage = (int(chunk.usage.prompt_tokens or 0), int(chunk.usage.completion_tokens or 0))
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            delta = choice.delta
            for tc in getattr(delta, "tool_calls", None) or []:
                slot = calls.setdefault(tc.index or 0, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                slot["name"] = (tc.function.name or "") or slot["name"]
                slot["arguments"] += tc.function.arguments or ""
            if delta.content:
                yield TextDelta(delta.content)
        tool_calls = tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], _as_json_text(c["arguments"])) for i, c in sorted(calls.items())
        )
        yield StreamEnd(finish, usage[0], usage[1], tool_calls)


def _as_json_text(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"))
    except json.JSONDecodeError:
        return arguments
