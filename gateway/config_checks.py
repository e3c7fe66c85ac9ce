"""What a configuration version may hold, and how it is judged before it is recorded (`gateway.config_versions`).

    table = validate_routes(body, settings)            # RouteTable, or InvalidRequest naming the problem
    plan_changes(engine, in_force, table)              # recent answers whose first deployment would change
    guards = validate_policy("acme", body, settings)   # the policy's chains, built
    judge_policy(in_force_guards, guards).regressed    # worse on the shipped guardrail sets?

- Routes: the body is `{deployments: [...], routes: [...]}` as in `netops.yaml`, validated by building the route
  table (unknown deployments or fallbacks, missing capabilities). Secrets are not versioned: a deployment's
  `api_key` comes from the settings' deployment of the same name.
- Policies: a tenant's (or `default`'s) policy file as JSON, validated by building its chains, then judged on the
  shipped guardrail sets against the policy in force: fewer attacks blocked, more benign texts blocked or a secret
  line no longer redacted refuses it unless forced.
- A dry run shows which recent requests would route differently (re-planned from their audit records) or which
  guardrail set items would be judged differently (request texts are never kept, so the sets stand in for them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select

from gateway.db import AUDIT
from gateway.errors import InvalidRequest
from gateway.settings import Settings
from guardrails import Blocked, PolicyError, PolicyFile, ScanContext, SizeLimit, Stage, TenantGuards, Vault
from guardrails.policy import build_tenant_guards
from routing import ModelRequest, Route, Router, RouteTable
from routing.classify import RequestClass
from routing.errors import RoutingError
from routing.table import Deployment

__all__ = [
    "PolicyJudgement",
    "judge_policy",
    "plan_changes",
    "policy_body",
    "routes_body",
    "validate_policy",
    "validate_routes",
]


# -- routes -------------------------------------------------------------------------------------------------


def routes_body(deployments: list[Deployment], routes: list[Route]) -> dict[str, Any]:
    """The versioned form of a route table: no secrets (API keys stay in the settings)."""
    return {
        "deployments": [d.model_dump(mode="json", exclude={"api_key"}) for d in deployments],
        "routes": [r.model_dump(mode="json") for r in routes],
    }


def validate_routes(body: dict[str, Any], settings: Settings) -> RouteTable:
    """The route table of a body, with the settings' API keys; `InvalidRequest` names what is wrong."""
    if not isinstance(body, dict) or set(body) - {"deployments", "routes"}:
        raise InvalidRequest("a routes version is a mapping with `deployments` and `routes` only")
    keys = {d.name: d.api_key for d in settings.deployments}
    try:
        deployments = [
            Deployment.model_validate({**d, **({"api_key": keys[d["name"]]} if d.get("name") in keys else {})})
            for d in body.get("deployments") or []
        ]
        routes = [Route.model_validate(r) for r in body.get("routes") or []]
        if not deployments or not routes:
            raise InvalidRequest("a routes version needs at least one deployment and one route")
        return RouteTable(deployments, routes)
    except ValidationError as exc:
        raise _invalid("routes version", exc) from None
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"invalid routes version: {exc}") from None


def _invalid(what: str, exc: ValidationError) -> InvalidRequest:
    """The first validation problem, named by where it is."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return InvalidRequest(f"invalid {what} at {where}: {first['msg']}")


def plan_changes(engine: Engine, old: RouteTable, new: RouteTable, *, last: int = 200) -> list[dict[str, object]]:
    """The recent answered requests (from their audit records) whose first choice of deployment differs under
    `new`: each re-planned under both tables with the same (neutral) live signals."""
    query = select(AUDIT.c.request_id, AUDIT.c.payload).where(AUDIT.c.kind == "chat.completed")
    with engine.connect() as conn:
        rows = list(conn.execute(query.order_by(AUDIT.c.seq.desc()).limit(last)))
    before, after = Router(old, _NoBackend()), Router(new, _NoBackend())
    changed = []
    for request_id, raw in rows:
        record = json.loads(raw)
        routing = record.get("routing") or {}
        klass = RequestClass(
            "hard" if routing.get("class") == "hard" else "easy", bool(routing.get("sensitive")), ("from audit",)
        )
        size = int(record.get("prompt_tokens") or 0)
        request = ModelRequest([{"role": "user", "content": "x " * size}], 1, None)
        was, will = _first(before, record["route"], request, klass), _first(after, record["route"], request, klass)
        if was != will:
            changed.append({"request_id": request_id, "route": record["route"], "before": was, "after": will})
    return changed


def _first(router: Router, route_name: str, request: ModelRequest, klass: RequestClass) -> str:
    try:
        route = router.table.route(route_name)
    except RoutingError:
        return "(no such route)"
    order = router.plan(route, request, klass).order
    return order[0] if order else "(no eligible deployment)"


class _NoBackend:
    """Planning only: nothing is ever sent."""

    def stream(self, deployment: Deployment, request: ModelRequest) -> Any:
        raise RuntimeError("a dry run sends nothing")


# -- policies -----------------------------------------------------------------------------------------------


def policy_body(policy: PolicyFile) -> dict[str, Any]:
    return policy.model_dump(mode="json")


def validate_policy(subject: str, body: dict[str, Any], settings: Settings) -> TenantGuards:
    """A policy's chains, built (unknown scanners, options and thresholds fail here)."""
    g = settings.guardrails
    try:
        policy = PolicyFile.model_validate(body)
        return build_tenant_guards(subject, policy, size_limit=SizeLimit(g.max_input_chars, g.max_input_tokens))
    except ValidationError as exc:
        raise _invalid("policy", exc) from None
    except PolicyError as exc:
        raise InvalidRequest(f"invalid policy: {exc.detail}") from None


@dataclass(frozen=True, slots=True)
class PolicyJudgement:
    """A candidate policy against the one in force, on the shipped guardrail sets."""

    attacks: int
    benign: int
    secret_lines: int
    blocked: tuple[int, int]  # attacks blocked: (in force, candidate)
    false_blocks: tuple[int, int]  # benign texts blocked
    redacted: tuple[int, int]  # secret lines whose value was replaced
    newly_allowed: tuple[str, ...]  # attacks the candidate lets through, first few
    newly_blocked: tuple[str, ...]
    newly_leaked: tuple[str, ...]

    @property
    def regressed(self) -> bool:
        return (
            self.blocked[1] < self.blocked[0]
            or self.false_blocks[1] > self.false_blocks[0]
            or self.redacted[1] < self.redacted[0]
        )

    def lines(self) -> list[str]:
        return [
            f"attacks blocked {self.blocked[0]} -> {self.blocked[1]} of {self.attacks}",
            f"benign texts blocked {self.false_blocks[0]} -> {self.false_blocks[1]} of {self.benign}",
            f"secret lines redacted {self.redacted[0]} -> {self.redacted[1]} of {self.secret_lines}",
            *(f"  newly allowed: {t[:100]}" for t in self.newly_allowed),
            *(f"  newly blocked: {t[:100]}" for t in self.newly_blocked),
            *(f"  newly leaked: {t[:100]}" for t in self.newly_leaked),
        ]


def judge_policy(current: TenantGuards, candidate: TenantGuards) -> PolicyJudgement:
    """Run both input chains over the shipped injection, benign and secret-line sets."""
    from evals.guardrails_data import load_lines, load_secret_lines  # noqa: PLC0415 - only when judging

    attacks = [t.text for t in load_lines("injection_eval.txt", attack=True)]
    benign = [t.text for t in load_lines("noc_benign_eval.txt", attack=False)]
    secrets = [(s.text, s.secrets) for s in load_secret_lines() if s.secrets]

    def guarded(guards: TenantGuards, text: str) -> str | None:
        """The guarded text, or None when the chain blocks it."""
        try:
            return guards.input.run(text, ScanContext("config-judge", Stage.INPUT, Vault())).text
        except Blocked:
            return None

    def blocks(guards: TenantGuards, text: str) -> bool:
        return guarded(guards, text) is None

    def redacts(guards: TenantGuards, text: str, values: tuple[str, ...]) -> bool:
        out = guarded(guards, text)
        return out is None or not any(v in out for v in values)

    a = [(blocks(current, t), blocks(candidate, t)) for t in attacks]
    b = [(blocks(current, t), blocks(candidate, t)) for t in benign]
    s = [(redacts(current, t, v), redacts(candidate, t, v)) for t, v in secrets]
    return PolicyJudgement(
        len(attacks),
        len(benign),
        len(secrets),
        (sum(x for x, _ in a), sum(y for _, y in a)),
        (sum(x for x, _ in b), sum(y for _, y in b)),
        (sum(x for x, _ in s), sum(y for _, y in s)),
        tuple(t for t, (x, y) in zip(attacks, a, strict=True) if x and not y)[:5],
        tuple(t for t, (x, y) in zip(benign, b, strict=True) if y and not x)[:5],
        tuple(t for (t, _), (x, y) in zip(secrets, s, strict=True) if x and not y)[:5],
    )
