"""Tool exceptions.

ToolError
 +-- ToolNotAllowed     unknown tool, or not granted to the caller (tenant, role)
 +-- InvalidArguments   arguments fail the tool's schema or validators; nothing ran
 |    +-- UnknownDevice     the device is not in the caller's tenant inventory
 |    +-- UnknownInterface  a change names an interface the device does not have (read from the device); no action
 |    +-- UnknownNeighbor   a change names a BGP neighbor the device does not have; no action
 +-- CommandNotAllowed  a command is not an allow-listed template for the platform; nothing ran
 +-- ToolFailed         the tool ran and failed or timed out
 +-- ActionError        a pending change action cannot be approved, denied or run
 |    +-- ActionNotFound    no such action for this tenant
 |    +-- ActionNotPending  already executed, denied or expired (a replayed approval)
 |    +-- ApprovalRefused   the approver may not approve it (role, own request, second approval by the same key)
 +-- LabError           the network lab cannot be built, inspected or changed (e.g. not root)
"""

from __future__ import annotations

__all__ = [
    "ActionError",
    "ActionNotFound",
    "ActionNotPending",
    "ApprovalRefused",
    "CommandNotAllowed",
    "InvalidArguments",
    "LabError",
    "ToolError",
    "ToolFailed",
    "ToolNotAllowed",
    "UnknownDevice",
    "UnknownInterface",
    "UnknownNeighbor",
]


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


class UnknownDevice(InvalidArguments):
    """The device is not in the tenant's inventory; nothing ran."""

    code = "unknown_device"


class UnknownInterface(InvalidArguments):
    """A change tool named an interface the device does not have (or that runs no OSPF, for an OSPF cost);
    checked on the device before a pending action is created."""

    code = "unknown_interface"


class UnknownNeighbor(InvalidArguments):
    """A change tool named a BGP neighbor the device does not have; checked before a pending action is created."""

    code = "unknown_neighbor"


class CommandNotAllowed(ToolError):
    """The command is not an allow-listed template for the device's platform; nothing ran."""

    code = "command_not_allowed"


class ToolFailed(ToolError):
    """The tool ran and failed or timed out."""

    code = "tool_failed"


class ActionError(ToolError):
    """A pending change action cannot be acted on."""

    code = "action_error"


class ActionNotFound(ActionError):
    """No such pending action for this tenant."""

    code = "action_not_found"


class ActionNotPending(ActionError):
    """The action was already executed, denied or has expired; a replayed approval lands here."""

    code = "action_not_pending"


class ApprovalRefused(ActionError):
    """The caller may not approve or deny this action."""

    code = "approval_refused"


class LabError(ToolError):
    """The lab cannot be built, inspected or changed."""

    code = "lab_error"
