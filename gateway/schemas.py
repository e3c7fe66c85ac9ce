"""Request and response bodies of the HTTP API: the models the handlers validate with and the OpenAPI
document publishes (`gateway.openapi`).

Unknown top-level fields that OpenAI clients send (`n`, `top_p`, `user`, ...) are accepted and ignored;
`messages` and the fields the gateway acts on are validated. Response models document the bodies; handlers
build them as dicts (no second validation on the hot path).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ActionView",
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "InvokeRequest",
    "InvokeResponse",
    "ListOf",
    "ScanRequest",
    "ScanResponse",
    "SearchRequest",
    "SearchResponse",
]


class ChatMessage(BaseModel):
    """One chat message; list-of-parts content is flattened to its text parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=128)
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0, le=2)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None

    @field_validator("tools")
    @classmethod
    def _no_client_tools(cls, value: list[dict[str, Any]] | None) -> None:
        if value:
            raise ValueError("client-defined tools are not supported; the gateway offers its own vetted tools")

    @property
    def forced_tool(self) -> str | None:
        """The tool named by `tool_choice: {"type": "function", "function": {"name": ...}}`, if any."""
        if isinstance(self.tool_choice, dict):
            function = self.tool_choice.get("function")
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                return str(function["name"])
        return None

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class SearchRequest(BaseModel):
    """`POST /v1/retrieval/search`."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(5, ge=1, le=50)


class ScanRequest(BaseModel):
    """`POST /v1/guardrails/scan`."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=1_000_000)
    stage: Literal["input", "context", "output"] = "input"


class KillRequest(BaseModel):
    """`POST /v1/kill`: switch a tool, route, deployment, tenant or prompt version off (gateway.kills)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["tool", "route", "deployment", "tenant", "prompt"]
    name: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=500)


class InvokeRequest(BaseModel):
    """`POST /v1/tools/{name}/invoke`: the tool's arguments (see `GET /v1/tools` for each tool's schema)."""

    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatCompletion(_Open):
    """An OpenAI chat completion, plus `netops`: citations, tools run, warnings, cost, route, deployment."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, int]
    netops: dict[str, Any]


class SearchHit(_Open):
    path: str
    heading: str
    index_version: str
    score: float
    text: str = Field(description="the chunk after the tenant's context guardrails (secrets redacted)")


class SearchResponse(BaseModel):
    """Ranked runbook chunks for the caller's tenant and clearance."""

    results: list[SearchHit]
    warnings: list[str] = []


class ScanResponse(BaseModel):
    """The guarded text and each scanner's verdict (labels only, never the values found)."""

    text: str
    verdicts: list[dict[str, Any]]
    policy: str


class InvokeResponse(_Open):
    """One tool run: name, validated arguments, output digest and duration, and the guarded output."""

    name: str
    arguments: dict[str, Any]
    output_digest: str
    duration_ms: float
    output: str
    verdicts: list[dict[str, Any]]


class ActionView(_Open):
    """A change action: what will run, on which device, its approvals and status."""

    id: str
    tool: str
    device: str
    status: str


class ListOf(BaseModel):
    """`{"object": "list", "data": [...]}`."""

    object: Literal["list"]
    data: list[dict[str, Any]]
