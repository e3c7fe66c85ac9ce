"""Guardrail exceptions. Raising one stops the chain; only the gateway turns them into HTTP.

GuardrailError
 +-- Blocked              a scanner said block (reason, scanner)
 |    +-- InputTooLarge   size or token limit exceeded
 +-- ScannerFailed        a scanner raised, and its policy is fail-closed
 |    +-- ScannerTimedOut  a scanner exceeded the policy's timeout
 +-- PolicyError          a policy file is invalid (raised at start-up, never on a request)
"""

from __future__ import annotations

__all__ = ["Blocked", "GuardrailError", "InputTooLarge", "PolicyError", "ScannerFailed", "ScannerTimedOut"]


class GuardrailError(Exception):
    """Base of every guardrail error; `code` is the stable machine-readable error code."""

    code = "guardrail_error"

    def __init__(self, detail: str, *, scanner: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.scanner = scanner


class Blocked(GuardrailError):
    """A scanner decided the text must not pass."""

    code = "guardrail_blocked"


class InputTooLarge(Blocked):
    """The input exceeds the configured size or token limit."""

    code = "input_too_large"


class ScannerFailed(GuardrailError):
    """A scanner raised or timed out; the request is blocked (fail closed)."""

    code = "guardrail_failed"


class ScannerTimedOut(ScannerFailed):
    """A scanner took longer than the policy allows; treated like a failure (fail closed)."""

    code = "guardrail_timeout"


class PolicyError(GuardrailError):
    """A guardrail policy is invalid."""

    code = "policy_invalid"
