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
from collections.abc import Callable, Iterable, Mapping
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
    """Who is calling: the tenant (from the API key, never from the model), the key and role, and the grants held."""

    tenant: str
    grants: frozenset[str]
    request_id: str = ""
    key_id: str = ""
    role: str = ""
    tenant_grants: frozenset[str] = frozenset()  # before narrowing by role: tells "not granted" from "not your role"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned, with what the audit log keeps."""

    tool: str
    arguments: dict[str, Any]
    output: str
    duration_ms: float
    age_s: float | None = None  # from the gateway's tool-output cache: how old the output is (None: just ran)

    @property
    def output_digest(self) -> str:
        return hashlib.sha256(self.output.encode()).hexdigest()

    def summary(self) -> dict[str, object]:
        """What the audit log and the response keep: name, validated arguments, digest, duration."""
        summary: dict[str, object] = {
            "name": self.tool,
            "arguments": self.arguments,
            "output_digest": self.output_digest,
            "duration_ms": round(self.duration_ms, 2),
        }
        if self.age_s is not None:
            summary["cached_age_s"] = round(self.age_s, 1)
        return summary


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

    def __init__(self, tools: Iterable[Tool], *, devices_of: Callable[[str], list[str]] | None = None) -> None:
        self._tools = {t.name: t for t in tools}
        self._devices_of = devices_of

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    @property
    def risks(self) -> dict[str, Risk]:
        """Each tool's risk class, by name."""
        return {name: t.risk for name, t in self._tools.items()}

    def needs_only_device(self, name: str) -> bool:
        """Whether the tool's only required argument is `device` (a runbook step can name it)."""
        schema = self._tools[name].Args.model_json_schema()
        return set(schema.get("required", [])) == {"device"}

    def schemas(self, grants: Iterable[str], tenant: str | None = None) -> list[dict[str, Any]]:
        """OpenAI-style `tools` entries for the granted tools; with a tenant, `device` lists its inventory
        as an enum (a grammar-constrained model can then only name the tenant's own devices)."""
        return [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": self._parameters(t, tenant)},
            }
            for name, t in sorted(self._tools.items())
            if name in set(grants)
        ]

    def _parameters(self, tool: Tool, tenant: str | None) -> dict[str, Any]:
        schema = tool.Args.model_json_schema()
        device = schema.get("properties", {}).get("device")
        names = self._devices_of(tenant) if tenant is not None and self._devices_of is not None else []
        if names and isinstance(device, dict):
            device["enum"] = names
        return schema

    async def invoke(self, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate and run one tool call; raises `ToolNotAllowed`, `InvalidArguments` or `ToolFailed`."""
        tool, args = self.check(name, arguments, ctx)
        started = time.perf_counter()
        try:
            output = await asyncio.wait_for(tool.run(args, ctx), timeout=tool.timeout_s)
        except TimeoutError:
            raise ToolFailed(f"{name} timed out after {tool.timeout_s} s", tool=name) from None
        elapsed = (time.perf_counter() - started) * 1000
        return ToolResult(name, args.model_dump(mode="json"), output, elapsed)

    def check(self, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext) -> tuple[Tool, BaseModel]:
        """Grant and argument checks only (nothing runs): the tool and its validated arguments."""
        return self.require_grant(name, ctx), _validate(self._tools[name], arguments)

    def require_grant(self, name: str, ctx: ToolContext) -> Tool:
        """The tool, if the caller may call it; the refusal names what is missing: the tool, the tenant's grant
        or the key's role."""
        tool = self._tools.get(name)
        if tool is None:
            raise ToolNotAllowed(f"there is no tool {name[:64]!r}", tool="unknown")
        if name in ctx.grants:
            return tool
        if name in ctx.tenant_grants:
            raise ToolNotAllowed(
                f"tool {name!r} is granted to tenant {ctx.tenant!r}, but not to the role '{ctx.role}' of this key",
                tool=name,
            )
        raise ToolNotAllowed(f"tool {name!r} is not granted to tenant {ctx.tenant!r}", tool=name)


def _validate(tool: Tool, arguments: str | Mapping[str, Any]) -> BaseModel:
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        return tool.Args.model_validate(raw)
    except ValidationError as exc:  # messages without the input values: audit and logs never echo them
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())
        raise InvalidArguments(f"invalid arguments for {tool.name}: {problems}", tool=tool.name) from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidArguments(f"invalid arguments for {tool.name}: {type(exc).__name__}", tool=tool.name) from None
