"""Request and response bodies of the HTTP API: the models the handlers validate with and the OpenAPI
document publishes (`gateway.openapi`).

Unknown top-level fields that OpenAI clients send (`n`, `top_p`, `user`, ...) are accepted and ignored;
`messages` and the fields the gateway acts on are validated, `response_format` among them (structured output:
`json_object`, or `json_schema` with a JSON Schema the deployment constrains its decoding to). Response models
document the bodies; handlers build them as dicts (no second validation on the hot path).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ActionView",
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "InvokeRequest",
    "InvokeResponse",
    "JsonSchemaFormat",
    "ListOf",
    "ResponseFormat",
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


MAX_SCHEMA_BYTES = 32_768


class JsonSchemaFormat(BaseModel):
    """`response_format.json_schema`: OpenAI's structured-output form."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field("response", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = Field(None, max_length=1000)
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """`response_format`: `text` (the default), `json_object` (any JSON object; llama.cpp's `schema` extension
    accepted), or `json_schema` (a JSON Schema of at most 32 KB)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")

    @field_validator("json_schema", "schema_")
    @classmethod
    def _small(cls, value: Any) -> Any:
        body = value.schema_ if isinstance(value, JsonSchemaFormat) else value
        if body is not None and len(json.dumps(body)) > MAX_SCHEMA_BYTES:
            raise ValueError(f"the schema is over {MAX_SCHEMA_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs json_schema.schema")
        return self

    @property
    def schema_body(self) -> dict[str, Any] | None:
        """The JSON Schema the answer must follow, if any."""
        if self.json_schema is not None and self.type == "json_schema":
            return self.json_schema.schema_
        return self.schema_ if self.type == "json_object" else None


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
    response_format: ResponseFormat | None = None

    @field_validator("tools")
    @classmethod
    def _no_client_tools(cls, value: list[dict[str, Any]] | None) -> None:
        if value:
            raise ValueError("client-defined tools are not supported; the gateway offers its own vetted tools")

    @property
    def structured(self) -> dict[str, Any] | None:
        """`response_format` as the model request carries it: None for text, else `{"type": "json_object"}` or
        `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}` (each backend translates it)."""
        rf = self.response_format
        if rf is None or rf.type == "text":
            return None
        schema = rf.schema_body
        if schema is None:
            return {"type": "json_object"}
        name = rf.json_schema.name if rf.json_schema else "response"
        strict = bool(rf.json_schema.strict) if rf.json_schema else False
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}

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
