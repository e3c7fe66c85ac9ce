"""The tool contract and registry: declared, validated, time-limited, granted.

A tool declares a name, a pydantic model for its arguments (its JSON schema is what models see as an
OpenAI `tools` entry), a risk class and a timeout. The registry validates arguments before anything
runs and refuses tools the caller was not granted.

Example:
    registry = ToolRegistry([DnsLookup()])
    result = await registry.invoke("dns_lookup", '{"name": "example.net"}', ctx)
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ValidationError

from tools.errors import InvalidArguments, ToolFailed, ToolNotAllowed

__all__ = ["Risk", "Tool", "ToolContext", "ToolRegistry", "ToolResult"]


class Risk(enum.StrEnum):
    """`read` tools run when granted; `change` tools also need a human approval."""

    READ = "read"
    CHANGE = "change"


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who is calling: the tenant (from the API key, never from the model) and the grants it holds."""

    tenant: str
    grants: frozenset[str]
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned, with what the audit log keeps."""

    tool: str
    arguments: dict[str, Any]
    output: str
    duration_ms: float

    @property
    def output_digest(self) -> str:
        return hashlib.sha256(self.output.encode()).hexdigest()

    def summary(self) -> dict[str, object]:
        """What the audit log and the response keep: name, validated arguments, digest, duration."""
        return {
            "name": self.tool,
            "arguments": self.arguments,
            "output_digest": self.output_digest,
            "duration_ms": round(self.duration_ms, 2),
        }


class Tool(Protocol):
    """One vetted tool."""

    name: ClassVar[str]
    description: ClassVar[str]
    risk: ClassVar[Risk]
    timeout_s: ClassVar[float]
    Args: ClassVar[type[BaseModel]]

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        """Run with validated arguments; return text output. Never runs a shell."""
        ...


class ToolRegistry:
    """The tools the gateway may run, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {t.name: t for t in tools}

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def schemas(self, grants: Iterable[str]) -> list[dict[str, Any]]:
        """OpenAI-style `tools` entries for the granted tools."""
        return [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.Args.model_json_schema(),
                },
            }
            for name, t in sorted(self._tools.items())
            if name in set(grants)
        ]

    async def invoke(self, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate and run one tool call; raises `ToolNotAllowed`, `InvalidArguments` or `ToolFailed`."""
        tool = self._tools.get(name)
        if tool is None or name not in ctx.grants:
            raise ToolNotAllowed(f"tool {name!r} is not available to tenant {ctx.tenant!r}", tool=name)
        args = _validate(tool, arguments)
        started = time.perf_counter()
        try:
            output = await asyncio.wait_for(tool.run(args, ctx), timeout=tool.timeout_s)
        except TimeoutError:
            raise ToolFailed(f"{name} timed out after {tool.timeout_s} s", tool=name) from None
        elapsed = (time.perf_counter() - started) * 1000
        return ToolResult(name, args.model_dump(mode="json"), output, elapsed)


def _validate(tool: Tool, arguments: str | Mapping[str, Any]) -> BaseModel:
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        return tool.Args.model_validate(raw)
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise InvalidArguments(f"invalid arguments for {tool.name}: {exc}", tool=tool.name) from None
