"""Typed audit records of the Slack bot, beside the gateway's own (`gateway.events`).

Each names the Slack workspace, channel and user ids, never message text. The gateway requests the bot made
for a Slack action are listed by request id; their own final records carry the same Slack ids under `via`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gateway.events import AuditEvent

__all__ = ["SlackAuthFailed", "SlackHandled", "SlackRefused"]


@dataclass(frozen=True, kw_only=True)
class SlackAuthFailed(AuditEvent):
    """A request to `/slack/events` refused with 401: `missing_header`, `stale_timestamp` or `bad_signature`."""

    kind: ClassVar[str] = "slack.auth_failed"
    code: str
    client: str = ""
    retry_num: str = ""


@dataclass(frozen=True, kw_only=True)
class SlackRefused(AuditEvent):
    """A Slack user or channel the bot would not act for (`unmapped_channel`, `unmapped_user`, `tenant_mismatch`)."""

    kind: ClassVar[str] = "slack.refused"
    team: str
    channel: str
    user: str
    action: str
    code: str


@dataclass(frozen=True, kw_only=True)
class SlackHandled(AuditEvent):
    """One bot action done for a Slack user: what (`ask`, `status`, `search`, `incident.start`, `approve`, ...),
    its outcome (`ok` or the gateway's refusal code) and the gateway requests it made."""

    kind: ClassVar[str] = "slack.handled"
    team: str
    channel: str
    user: str
    action: str
    outcome: str
    key_id: str = ""
    thread_ts: str = ""
    gateway_requests: list[str] = field(default_factory=list)
    action_id: str = ""
