"""Typed audit events: frozen dataclasses, one per thing that happens, all flowing to one `AuditLog` sink.

Payloads hold labels, digests, counts and validated identifiers only: never prompt text, argument values
of refused calls, keys or secrets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ANONYMOUS",
    "ActionDecided",
    "ActionExecuted",
    "AuditEvent",
    "AuthFailed",
    "ChatCompleted",
    "ConfigChanged",
    "FeedbackGiven",
    "KillRevived",
    "KillThrown",
    "PromptPromoted",
    "PromptRolledBack",
    "PromptRolloutStarted",
    "RequestAborted",
    "RequestCompleted",
    "RequestRejected",
    "ShadowAnswered",
    "ToolDenied",
    "ToolInvoked",
]

ANONYMOUS = "-"  # the tenant field of a record whose caller has no valid key (no tenant name can be "-")


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """Base of every audit event: who (tenant) and which request."""

    kind: ClassVar[str] = "event"
    tenant: str
    request_id: str
    # the client on whose behalf a key acted, e.g. {"client": "slack", "team": "T1", "user": "U1", "channel": "C1"}
    # (gateway.deps.principal: only for keys mapped to a Slack user); left out of the payload when empty
    via: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("tenant")
        data.pop("request_id")
        if not data["via"]:
            data.pop("via")
        return data


@dataclass(frozen=True, kw_only=True)
class ChatCompleted(AuditEvent):
    """A chat request that reached the model and was answered."""

    kind: ClassVar[str] = "chat.completed"
    key_id: str
    route: str
    deployment: str
    prompt_digest: str
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    policy: str
    cost_usd: float = 0.0
    routing: dict[str, object] = field(default_factory=dict)
    verdicts: list[dict[str, object]] = field(default_factory=list)
    citations: list[dict[str, object]] = field(default_factory=list)
    tools: list[dict[str, object]] = field(default_factory=list)
    checks: list[dict[str, object]] = field(default_factory=list)  # the gateway's own read-only checks
    findings: int = 0
    prompts: str = ""  # the prompt templates' version (gateway.prompting)
    cache: dict[str, object] | None = None  # a response cache hit: {kind, age_s, source_request_id, saved_usd}
    timings_ms: dict[str, float] = field(default_factory=dict)  # model, retrieval, tools, gateway, total
    cached_steps: dict[str, float] = field(default_factory=dict)  # e.g. {"retrieval": 4.2}: served by a cache, age s


@dataclass(frozen=True, kw_only=True)
class RequestCompleted(AuditEvent):
    """A request other than a chat answer that succeeded (search, scan, tool call, listing, decision)."""

    kind: ClassVar[str] = "request.completed"
    key_id: str
    method: str
    route: str
    status: int
    detail: dict[str, object] = field(default_factory=dict)  # counts, digests, labels: never request text


@dataclass(frozen=True, kw_only=True)
class RequestRejected(AuditEvent):
    """A request refused with a problem response: bad body, role, guardrail, limit, budget, failed backend."""

    kind: ClassVar[str] = "request.rejected"
    key_id: str
    route: str
    code: str
    detail: str
    status: int = 0
    method: str = ""
    verdicts: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RequestAborted(AuditEvent):
    """A chat answer cut off after the model was called: the client went away or the backend died mid-answer.

    `completion_chars` counts the guarded text already sent; the budget keeps the whole reservation booked."""

    kind: ClassVar[str] = "request.aborted"
    key_id: str
    route: str
    code: str  # client_gone | the backend's error code
    deployment: str = ""
    prompts: str = ""
    completion_chars: int = 0
    verdicts: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class AuthFailed(AuditEvent):
    """A security event: a request without a valid key. No key material is kept, not even its id."""

    kind: ClassVar[str] = "security.auth_failed"
    method: str
    route: str
    code: str  # missing_key | unknown_key | revoked_key | bad_scrape_token
    client: str = ""


@dataclass(frozen=True, kw_only=True)
class ToolInvoked(AuditEvent):
    """A tool ran (or, for a `change` tool, proposed a pending action): validated arguments and output digest only."""

    kind: ClassVar[str] = "tool.invoked"
    key_id: str
    tool: str
    risk: str
    arguments: dict[str, object]
    duration_ms: float
    output_digest: str
    verdicts: list[dict[str, object]] = field(default_factory=list)
    cached_age_s: float | None = None  # the output came from the tool cache, this old (gateway.cache)


@dataclass(frozen=True, kw_only=True)
class ToolDenied(AuditEvent):
    """A tool call refused (not granted, invalid arguments, not allow-listed) or failed: the stable code only,
    since a refusal's message may quote the argument values; an unknown tool's name is recorded as `unknown`."""

    kind: ClassVar[str] = "tool.denied"
    key_id: str
    tool: str
    code: str


@dataclass(frozen=True, kw_only=True)
class ActionDecided(AuditEvent):
    """A human approved or denied a pending change action, or tried to and was refused."""

    kind: ClassVar[str] = "action.decided"
    key_id: str
    action_id: str
    decision: str  # approve | deny
    outcome: str  # the action's status afterwards, or the refusal code
    tool: str = ""
    device: str = ""
    approvals: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ActionExecuted(AuditEvent):
    """An approved change action ran on its device: result digest and rollback hint."""

    kind: ClassVar[str] = "action.executed"
    key_id: str
    action_id: str
    tool: str
    device: str
    arguments: dict[str, object]
    status: str  # executed | failed
    result_digest: str
    rollback: str
    approvals: list[str] = field(default_factory=list)


# -- prompt rollouts (gateway.rollout): every switch of the prompt version in force is one of these -----------
# `tenant` is the rollout's scope: a tenant, or "*" for all tenants; `actor` is "cli", "auto" or an admin key id.


@dataclass(frozen=True, kw_only=True)
class PromptRolloutStarted(AuditEvent):
    """A candidate prompt version started serving a share of the scope's traffic (canary) or in shadow."""

    kind: ClassVar[str] = "prompts.rollout_started"
    rollout: str
    baseline: str
    candidate: str
    mode: str  # canary | shadow
    share: float
    margin: float
    min_requests: int
    actor: str


@dataclass(frozen=True, kw_only=True)
class PromptPromoted(AuditEvent):
    """A rollout's candidate became the version in force for its scope (persisted; settings pins still win)."""

    kind: ClassVar[str] = "prompts.promoted"
    rollout: str
    version: str
    previous: str
    actor: str
    counters: dict[str, dict[str, object]] = field(default_factory=dict)  # version -> rates at the switch


@dataclass(frozen=True, kw_only=True)
class PromptRolledBack(AuditEvent):
    """A rollout ended without a switch: by hand, or automatically when the candidate's block or error rate
    exceeded the baseline's by more than the margin."""

    kind: ClassVar[str] = "prompts.rolled_back"
    rollout: str
    candidate: str
    baseline: str
    reason: str  # manual | block_rate | error_rate
    actor: str
    counters: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ConfigChanged(AuditEvent):
    """A new version of the routes or of a tenant's guardrail policy came into force (applied or rolled back);
    the tenant field is the policy's tenant, or "-" for the platform's routes."""

    kind: ClassVar[str] = "config.changed"
    config: str  # routes | policy
    subject: str
    version: int
    previous: int | None
    digest: str
    author: str
    reason: str
    change: str  # apply | rollback | rollout | promote | rollout_ended
    rollout: dict[str, object] | None = None  # a gradual rollout: {id, share, tenants}


@dataclass(frozen=True, kw_only=True)
class KillThrown(AuditEvent):
    """An operator switched a tool, route, deployment or tenant off (gateway.kills)."""

    kind: ClassVar[str] = "kill.thrown"
    target: str  # tool | route | deployment | tenant
    name: str
    reason: str
    author: str


@dataclass(frozen=True, kw_only=True)
class KillRevived(AuditEvent):
    """A switch was revived: the target serves again."""

    kind: ClassVar[str] = "kill.revived"
    target: str
    name: str
    reason: str
    author: str


@dataclass(frozen=True, kw_only=True)
class ShadowAnswered(AuditEvent):
    """A shadow rollout's candidate answered a request after its real answer was sent; never shown to anyone.

    `request_id` is the real request's; the answer is kept as a digest only."""

    kind: ClassVar[str] = "prompts.shadow"
    rollout: str
    version: str
    answer_digest: str
    completion_tokens: int
    blocked: bool
    unsupported: int
    error: str  # the stable code of a failed call, or ""
    latency_ms: float


@dataclass(frozen=True, kw_only=True)
class FeedbackGiven(AuditEvent):
    """A user's thumbs up or down on an answer (`rated` is that answer's request id, of the same tenant)."""

    kind: ClassVar[str] = "feedback.given"
    key_id: str
    rated: str
    rating: str  # up | down
    version: str  # the prompt version that answered
