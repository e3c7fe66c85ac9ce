"""The OpenAI-compatible request body, validated strictly where it matters and lenient elsewhere.

Unknown top-level fields that OpenAI clients send (`n`, `top_p`, `user`, ...) are accepted and ignored;
`messages` and the fields the gateway acts on are validated.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ChatCompletionRequest", "ChatMessage", "ScanRequest", "SearchRequest"]


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
