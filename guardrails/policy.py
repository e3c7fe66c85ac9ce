"""Which scanners guard a tenant's requests, per stage.

The foundation policy: a size limit on input and the network-secrets redactor on every stage.
Per-tenant policy files deepen this (scanners, thresholds, fail-open exceptions).

Example:
    guards = default_guards(max_chars=24_000, max_tokens=1_500)
    guards.for_tenant("acme").input.run(text, ctx)
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.chain import GuardChain
from guardrails.limits import SizeLimit
from guardrails.scanner import Scanner
from guardrails.secrets import SecretsScanner

__all__ = ["Guards", "TenantGuards", "default_guards"]


@dataclass(frozen=True, slots=True)
class TenantGuards:
    """The chains for one tenant: user input, untrusted context, model output."""

    input: GuardChain
    context: GuardChain
    output: GuardChain
    policy_id: str


@dataclass(frozen=True, slots=True)
class Guards:
    """Chains by tenant, with a default for tenants without a policy of their own."""

    default: TenantGuards
    tenants: dict[str, TenantGuards]

    def for_tenant(self, tenant: str) -> TenantGuards:
        return self.tenants.get(tenant, self.default)


def default_guards(*, max_chars: int, max_tokens: int) -> Guards:
    """The built-in policy used when no tenant policy is configured."""
    secrets: Scanner = SecretsScanner()
    chains = TenantGuards(
        input=GuardChain([SizeLimit(max_chars, max_tokens), secrets]),
        context=GuardChain([secrets]),
        output=GuardChain([secrets]),
        policy_id="builtin-default-v1",
    )
    return Guards(default=chains, tenants={})
