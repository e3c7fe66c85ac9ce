"""Input, context and output guardrails: scanners behind one contract, run as chains."""

from guardrails.chain import ChainResult, GuardChain
from guardrails.errors import Blocked, GuardrailError, InputTooLarge, PolicyError, ScannerFailed
from guardrails.limits import SizeLimit, estimate_tokens
from guardrails.policy import Guards, TenantGuards, default_guards
from guardrails.scanner import ScanContext, Scanner, Stage, Vault, build_scanner, register
from guardrails.secrets import SecretsScanner
from guardrails.streaming import StreamGuard
from guardrails.verdict import Action, Span, Verdict

__all__ = [
    "Action",
    "Blocked",
    "ChainResult",
    "GuardChain",
    "GuardrailError",
    "Guards",
    "InputTooLarge",
    "PolicyError",
    "ScanContext",
    "Scanner",
    "ScannerFailed",
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
    "estimate_tokens",
    "register",
]
