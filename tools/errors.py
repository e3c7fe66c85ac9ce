"""Tool exceptions.

ToolError
 +-- ToolNotAllowed     unknown tool, or not granted to the caller
 +-- InvalidArguments   arguments fail the tool's schema or validators
 +-- ToolFailed         the tool ran and failed or timed out
"""

from __future__ import annotations

__all__ = ["InvalidArguments", "ToolError", "ToolFailed", "ToolNotAllowed"]


class ToolError(Exception):
    """Base of every tool error; `code` is the stable machine-readable error code."""

    code = "tool_error"

    def __init__(self, detail: str, *, tool: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.tool = tool


class ToolNotAllowed(ToolError):
    """The tool does not exist or the caller has no grant for it."""

    code = "tool_not_allowed"


class InvalidArguments(ToolError):
    """The arguments fail validation; nothing ran."""

    code = "tool_arguments_invalid"


class ToolFailed(ToolError):
    """The tool ran and failed or timed out."""

    code = "tool_failed"
