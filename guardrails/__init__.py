"""Input, context and output guardrails: scanners behind one contract, run as chains."""

from guardrails.chain import ChainResult, GuardChain
from guardrails.errors import Blocked, GuardrailError, InputTooLarge, PolicyError, ScannerFailed, ScannerTimedOut
from guardrails.escaping import escape_for, escape_html, escape_markdown, escape_slack
from guardrails.limits import SizeLimit, estimate_tokens
from guardrails.output import CANARY
from guardrails.policy import Guards, PolicyFile, TenantGuards, default_guards, load_guards, read_policy
from guardrails.scanner import ScanContext, Scanner, Stage, Vault, build_scanner, register, registered
from guardrails.secrets import SecretsScanner
from guardrails.streaming import StreamGuard
from guardrails.verdict import Action, Span, Verdict

__all__ = [
    "CANARY",
    "Action",
    "Blocked",
    "ChainResult",
    "GuardChain",
    "GuardrailError",
    "Guards",
    "InputTooLarge",
    "PolicyError",
    "PolicyFile",
    "ScanContext",
    "Scanner",
    "ScannerFailed",
    "ScannerTimedOut",
    "SecretsScanner",
    "SizeLimit",
    "Span",
    "Stage",
    "StreamGuard",
    "TenantGuards",
    "Vault",
    "Verdict",
    "build_scanner",
    "default_guards",
    "escape_for",
    "escape_html",
    "escape_markdown",
    "escape_slack",
    "estimate_tokens",
    "load_guards",
    "read_policy",
    "register",
    "registered",
]
