"""Vetted network tools: a registry of declared, validated, granted tools over an allow-listed device layer."""

from tools.approvals import Action, Approvals, Plan
from tools.dns import DnsLookup
from tools.errors import (
    ActionError,
    ActionNotFound,
    ActionNotPending,
    ApprovalRefused,
    CommandNotAllowed,
    InvalidArguments,
    LabError,
    ToolError,
    ToolFailed,
    ToolNotAllowed,
    UnknownDevice,
)
from tools.inventory import Inventory
from tools.registry import Risk, Tool, ToolContext, ToolRegistry, ToolResult
from tools.toolbox import Toolbox

__all__ = [
    "Action",
    "ActionError",
    "ActionNotFound",
    "ActionNotPending",
    "ApprovalRefused",
    "Approvals",
    "CommandNotAllowed",
    "DnsLookup",
    "InvalidArguments",
    "Inventory",
    "LabError",
    "Plan",
    "Risk",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFailed",
    "ToolNotAllowed",
    "ToolRegistry",
    "ToolResult",
    "Toolbox",
    "UnknownDevice",
    "default_tools",
]


def default_tools() -> list[Tool]:
    """The built-in tools that need no devices (the device tools come with a `Toolbox`)."""
    return [DnsLookup()]
