"""Vetted network tools: a registry of declared, validated, granted tools."""

from tools.dns import DnsLookup
from tools.errors import InvalidArguments, ToolError, ToolFailed, ToolNotAllowed
from tools.registry import Risk, Tool, ToolContext, ToolRegistry, ToolResult

__all__ = [
    "DnsLookup",
    "InvalidArguments",
    "Risk",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFailed",
    "ToolNotAllowed",
    "ToolRegistry",
    "ToolResult",
    "default_tools",
]


def default_tools() -> list[Tool]:
    """The built-in tools."""
    return [DnsLookup()]
