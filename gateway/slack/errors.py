"""Errors of the Slack bot.

SlackBotError                 base
 +-- GatewayRefused           the gateway answered with a problem (status, stable code, retry-after)
 +-- NotMapped                a Slack channel or user has no tenant / key mapping (an ephemeral refusal)
 +-- KeyFileError             the keys file is missing a key, or is open to group or others
"""

from __future__ import annotations

__all__ = ["GatewayRefused", "KeyFileError", "NotMapped", "SlackBotError"]


class SlackBotError(Exception):
    """Base of the bot's errors; `detail` is safe to show the Slack user."""

    code = "slack_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class GatewayRefused(SlackBotError):
    """The gateway refused a request: its HTTP status, stable `code` and, for limits, `retry_after` seconds."""

    def __init__(self, status: int, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class NotMapped(SlackBotError):
    """A channel or user the operator has not mapped (`netops slack map ...`)."""

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.code = code


class KeyFileError(SlackBotError):
    code = "key_file"
