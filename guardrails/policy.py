"""Policy as code: which scanners guard a tenant's requests, per stage, from YAML validated at start-up.

One file per tenant in the policies folder (`<tenant>.yaml`), and `default.yaml` for every other
tenant. Each file is validated by pydantic (`extra="forbid"`) and every scanner is built through the
registry, so an unknown scanner, an unknown option or a bad threshold fails boot with `PolicyError`
naming the file. The policy's version is the hash of its validated content (`policy_id`), which the
gateway records with every audited request. The settings' size limit always runs first on input.

Example (`infra/policies/default.yaml`):
    version: 1
    timeout_ms: 2000
    fail_open: []
    input:   [{scanner: secrets}, {scanner: prompt_injection, options: {threshold: 0.5}}]
    context: [{scanner: secrets}, {scanner: prompt_injection}]
    output:  [{scanner: canary}, {scanner: secrets}, {scanner: dangerous_commands}]

    guards = load_guards(Path("infra/policies"), max_chars=24_000, max_tokens=1_500)
    guards.for_tenant("acme").input.run(text, ctx)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardrails.chain import GuardChain
from guardrails.errors import GuardrailError, PolicyError
from guardrails.hygiene import UnicodeHygieneScanner
from guardrails.limits import SizeLimit
from guardrails.scanner import ScanContext, Scanner, Stage, build_scanner
from guardrails.secrets import SecretsScanner

__all__ = [
    "Guards",
    "PolicyFile",
    "ScannerSpec",
    "TenantGuards",
    "build_tenant_guards",
    "default_guards",
    "load_guards",
]


class ScannerSpec(BaseModel):
    """One scanner in a stage: its registered name and its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scanner: str
    options: dict[str, Any] = Field(default_factory=dict)


class PolicyFile(BaseModel):
    """A tenant's guardrail policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(1, ge=1)
    description: str = ""
    timeout_ms: int = Field(2000, gt=0, le=60_000)
    fail_open: list[str] = Field(default_factory=list)
    input: list[ScannerSpec] = Field(default_factory=list)
    context: list[ScannerSpec] = Field(default_factory=list)
    output: list[ScannerSpec] = Field(default_factory=list)

    def digest(self) -> str:
        """A short hash of the validated content: the policy's version identity."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class TenantGuards:
    """The chains for one tenant: user input, untrusted context, model output, and `history` for the earlier
    assistant turns a client sends back: model output is data, not the user's instructions, so they pass the input
    chain's size limit and then the context chain (an injection-like passage is withheld, as in a retrieved
    excerpt, instead of refusing the user's new question)."""

    input: GuardChain
    context: GuardChain
    output: GuardChain
    policy_id: str
    history: GuardChain


@dataclass(frozen=True, slots=True)
class Guards:
    """Chains by tenant, with a default for tenants without a policy of their own."""

    default: TenantGuards
    tenants: dict[str, TenantGuards]

    def for_tenant(self, tenant: str) -> TenantGuards:
        return self.tenants.get(tenant, self.default)


def default_guards(*, max_chars: int, max_tokens: int) -> Guards:
    """The built-in policy used when no policies folder is configured: size limit, Unicode hygiene, secrets."""
    secrets: Scanner = SecretsScanner()
    hygiene: Scanner = UnicodeHygieneScanner()
    size_limit: Scanner = SizeLimit(max_chars, max_tokens)
    chains = TenantGuards(
        input=GuardChain([size_limit, hygiene, secrets]),
        context=GuardChain([hygiene, secrets]),
        output=GuardChain([hygiene, secrets]),
        policy_id="builtin-default-v1",
        history=GuardChain([size_limit, hygiene, secrets]),
    )
    return Guards(default=chains, tenants={})


def build_tenant_guards(name: str, policy: PolicyFile, *, size_limit: SizeLimit) -> TenantGuards:
    """Build the three chains of one validated policy (scanners shared between stages)."""
    built: dict[str, Scanner] = {}
    stages: dict[Stage, list[Scanner]] = {}
    used: dict[str, str] = {}  # registered name -> the built scanner's name
    for stage, specs in ((Stage.INPUT, policy.input), (Stage.CONTEXT, policy.context), (Stage.OUTPUT, policy.output)):
        scanners: list[Scanner] = []
        for spec in specs:
            key = json.dumps([spec.scanner, spec.options], sort_keys=True)
            scanner = built.get(key) or build_scanner(spec.scanner, spec.options)
            built[key] = scanner
            if stage not in scanner.stages:
                raise PolicyError(f"scanner {spec.scanner!r} does not run on the {stage.value} stage")
            scanners.append(scanner)
            used[spec.scanner] = scanner.name
        if stage is Stage.INPUT:  # the size limit runs first: the policy's own, else the settings'
            own = [s for s in scanners if isinstance(s, SizeLimit)]
            scanners = [own[0] if own else size_limit, *(s for s in scanners if not isinstance(s, SizeLimit))]
        stages[stage] = scanners
    stray = sorted(set(policy.fail_open) - set(used))
    if stray:
        raise PolicyError(f"fail_open names scanners the policy does not use: {stray}")
    fail_open = {used[n] for n in policy.fail_open}

    def chain(scanners: list[Scanner]) -> GuardChain:
        return GuardChain(scanners, fail_open=fail_open, timeout_s=policy.timeout_ms / 1000)

    history = chain([stages[Stage.INPUT][0], *stages[Stage.CONTEXT]])  # the size limit, then the context chain
    inp, context, output = (chain(stages[s]) for s in (Stage.INPUT, Stage.CONTEXT, Stage.OUTPUT))
    return TenantGuards(inp, context, output, f"{name}@{policy.digest()}", history)


def read_policy(path: Path) -> PolicyFile:
    """Parse and validate one policy file; any problem is a `PolicyError` naming the file."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return PolicyFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PolicyError(f"{path}: invalid policy at {where}: {first['msg']}") from None


def load_guards(policies_dir: Path, *, max_chars: int, max_tokens: int) -> Guards:
    """Every tenant's guards from a policies folder (`default.yaml` required); fails boot on any error."""
    default_file = policies_dir / "default.yaml"
    if not default_file.is_file():
        raise PolicyError(f"{policies_dir}: no default.yaml policy")
    size_limit = SizeLimit(max_chars, max_tokens)
    tenants: dict[str, TenantGuards] = {}
    default: TenantGuards | None = None
    for path in sorted(policies_dir.glob("*.yaml")):
        try:
            guards = build_tenant_guards(path.stem, read_policy(path), size_limit=size_limit)
        except PolicyError as exc:
            detail = exc.detail if exc.detail.startswith(str(path)) else f"{path}: {exc.detail}"
            raise PolicyError(detail) from None
        if path.stem == "default":
            default = guards
        else:
            tenants[path.stem] = guards
    assert default is not None
    for guards in (default, *tenants.values()):
        _warm_up(guards)
    return Guards(default=default, tenants=tenants)


def _warm_up(guards: TenantGuards) -> None:
    """Run each chain once at start-up, so lazy loading (e.g. phone metadata) never counts against a timeout."""
    sample = "Why is the BGP session to 192.0.2.2 down? Contact noc@example.net.\nsnmp-server community x RO\n"
    for stage, chain in ((Stage.INPUT, guards.input), (Stage.CONTEXT, guards.context), (Stage.OUTPUT, guards.output)):
        try:
            chain.run(sample, ScanContext("warm-up", stage))
        except GuardrailError:
            continue  # a failing scanner fails its requests (fail closed), not the boot
