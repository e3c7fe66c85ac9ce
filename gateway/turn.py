"""One owner per request: the `Turn` holds who is asking, their guardrail policy, the redaction vault, the
trail of verdicts and the budget ticket, and guarantees **exactly one final audit event** and **exactly one
budget settlement** for every request that reached the gateway, whatever path it leaves by.

    async with Turn(svc, request_id, "POST", audited=True) as turn:    # the edge opens it
        turn.bind(principal)                                            # deps.principal
        await turn.reserve(route, request)                              # limits + budget, atomic
        stream = await turn.open(route, request, buffered=False)        # the model is called from here on
        ...
        await turn.settle(deployment, prompt_tokens=.., completion_tokens=..)
        await turn.complete(ChatCompleted(...))                         # written now, before the last chunk
    # otherwise the edge closes the turn just before the response's last byte (or after the app returns),
    # writing the final event in this order of precedence:
    #   no valid key               -> security.auth_failed   (no key material)
    #   complete(event) was called -> that event             (chat.completed, or request.completed)
    #   model called, not complete -> request.aborted        (client gone or backend dead, chars sent so far)
    #   a problem response         -> request.rejected       (its stable code)
    # and an unsettled ticket is released (no model call) or forfeited (model called: usage unknown).

The final event is durable before the response ends, and is written with the cancel scope shielded, so a
client that disconnects cannot skip it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError

from gateway.config_model import ConfigRollout, Kind
from gateway.events import (
    ANONYMOUS,
    AuditEvent,
    AuthFailed,
    RequestAborted,
    RequestCompleted,
    RequestRejected,
)
from gateway.kills import Target
from gateway.prompting import PromptSet
from gateway.ratelimit import Ticket
from gateway.rollout_model import Choice, Served
from gateway.services import Services
from gateway.tenants import Principal
from gateway.tracing import Timings
from guardrails import Action, TenantGuards, Vault, Verdict
from retrieval import RetrievalError
from routing import ModelRequest, Route, RoutedStream, RouteTable
from routing.table import Deployment
from tools import ToolContext

__all__ = ["AUTH_CODES", "Outcome", "Trail", "Turn"]

log = logging.getLogger("netops.turn")
T = TypeVar("T")

AUTH_CODES = frozenset({"missing_key", "unknown_key", "revoked_key", "bad_scrape_token"})


@dataclass
class Trail:
    """Everything the guardrails decided during one request, and warnings for the caller."""

    verdicts: list[Verdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, verdicts: tuple[Verdict, ...] | list[Verdict]) -> None:
        for verdict in verdicts:
            self.verdicts.append(verdict)
            if verdict.action is not Action.ALLOW:
                self.warnings.append(f"{verdict.scanner}: {verdict.reason}")

    def confirmations(self) -> list[str]:
        """Dangerous commands the answer contains: a client must get explicit confirmation before running them."""
        flagged = (v for v in self.verdicts if v.action is Action.FLAG and v.scanner == "dangerous_commands")
        return sorted({span.label for v in flagged for span in v.evidence})

    def summaries(self) -> list[dict[str, object]]:
        return [v.summary() for v in self.verdicts if v.action is not Action.ALLOW]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended: its HTTP status, stable code (empty on success) and the final audit event's kind."""

    status: int
    code: str
    event: str


class Turn:
    """The single owner of one request's state and of its exit (see the module docstring)."""

    def __init__(
        self, svc: Services, request_id: str, method: str, *, audited: bool, client: str = "", traceparent: str = ""
    ) -> None:
        self.svc = svc
        self.request_id = request_id
        self.method = method
        self.audited = audited
        self.client = client
        self.route = ""  # the route template, set by the edge once the router matched
        self.model = ""  # the chat route (model name) asked for
        self.principal: Principal | None = None
        self.vault = Vault()
        self.trail = Trail()
        self.details: dict[str, object] = {}
        self.via: dict[str, str] = {}  # the client on whose behalf the key acts (see gateway.deps.principal)
        self.completion_chars = 0
        self.choice: Choice | None = None  # the prompt version chosen for a chat request (gateway.rollout)
        self.unsupported = 0  # unsupported-claim flags on the answer (counted per prompt version)
        self._index_version: str | None = None
        self.timings = Timings(svc.tracing, svc.metrics.steps, request_id, method, traceparent=traceparent)
        self.cached_steps: dict[str, float] = {}  # steps answered from a cache, by age (s): the audit trace of hits
        self.conversation = ""  # what keeps a conversation on one arm of a rollout (`choose_prompts` sets it)
        self.arms: list[tuple[ConfigRollout, str]] = []  # config rollouts this request took part in, and its arm
        self._guards: TenantGuards | None = None
        self._table: RouteTable | None = None
        self.fresh = False  # the client sent `Cache-Control: no-cache`: compute everything anew (gateway.cache)
        self._started = time.perf_counter()
        self.outcome: Outcome | None = None
        self._stream: RoutedStream | None = None
        self._ticket: Ticket | None = None
        self._final: AuditEvent | None = None
        self._problem: tuple[int, str, str] | None = None

    async def __aenter__(self) -> Turn:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close(500 if exc_info[0] is not None else 200)

    # -- who and what -------------------------------------------------------------------------------------------

    def bind(self, who: Principal) -> None:
        self.principal = who

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise RuntimeError("the turn has no principal yet (deps.principal binds it)")
        return self.principal

    @property
    def tenant(self) -> str:
        return self.principal.tenant if self.principal else ANONYMOUS

    @property
    def key_id(self) -> str:
        return self.principal.key_id if self.principal else ""

    async def choose_prompts(self, conversation: str) -> PromptSet:
        """Choose this chat request's prompt version: pinned, promoted, or a rollout's arm for the conversation."""
        rollouts = self.svc.rollouts
        choice = rollouts.choose_cached(self.tenant, conversation)
        if choice is None:
            choice = await asyncio.to_thread(rollouts.choose, self.tenant, conversation)
        self.choice = await self._unless_killed(choice)
        self.conversation = conversation
        return choice.prompts

    async def _unless_killed(self, choice: Choice) -> Choice:
        """A switched-off prompt version answers nothing: the version in force answers instead (out of any
        rollout), a shadow candidate is dropped; `Killed` when the version in force is off too."""
        kills = self.svc.live.kills
        if choice.shadow is not None and kills.get(Target.PROMPT, choice.shadow.version):
            choice = replace(choice, shadow=None)
        if not kills.get(Target.PROMPT, choice.prompts.version):
            return choice
        in_force = await asyncio.to_thread(self.svc.rollouts.in_force, self.tenant)
        kills.check(Target.PROMPT, in_force)  # the version in force is off too (or it is the one switched off)
        return Choice(self.svc.prompts.version(in_force))

    @property
    def prompts(self) -> PromptSet:
        """The prompt templates of this request (`choose_prompts`), else those pinned for the tenant or current."""
        return self.choice.prompts if self.choice else self.svc.prompts.for_tenant(self.tenant)

    @property
    def guards(self) -> TenantGuards:
        """The tenant's guardrail chains for this request: in force, or a policy rollout's candidate (chosen once)."""
        if self._guards is None:
            guards, tenant = self.svc.guards, self.who.tenant
            self._guards = guards.for_tenant(tenant)
            subject = tenant if (Kind.POLICY.value, tenant) in self.svc.live.rollouts else "default"
            if subject == tenant or tenant not in guards.tenants:  # a default rollout covers tenants without one
                self._guards = self._in_rollout(Kind.POLICY, subject, self._guards)
        return self._guards

    @property
    def table(self) -> RouteTable:
        """The route table for this request: in force, or a routes rollout's candidate (chosen once)."""
        if self._table is None:
            self._table = self._in_rollout(Kind.ROUTES, "", self.svc.router.table)
        return self._table

    def _in_rollout(self, kind: Kind, subject: str, in_force: T) -> T:
        try:
            rollout, candidate, serves = self.svc.live.candidate(kind, subject, self.tenant, self._conversation())
        except KeyError:
            return in_force
        self.arms.append((rollout, "candidate" if serves else "baseline"))
        return candidate if serves else in_force

    def _conversation(self) -> str:
        return self.conversation or self.request_id

    @property
    def cached(self) -> bool:
        """Whether this request may be answered from, and stored in, the caches."""
        return not self.fresh and self.svc.caches.enabled_for(self.tenant)

    def timed(self) -> dict[str, float]:
        """The request's time so far, split by step (ms)."""
        return self.timings.split((time.perf_counter() - self._started) * 1000)

    async def index_version(self) -> str:
        """The live runbook index version, asked once per request ("" when none is promoted)."""
        if self._index_version is None:
            try:
                self._index_version = await asyncio.to_thread(self.svc.retriever.version)
            except RetrievalError:  # the index host is gone: nothing is cached against a version
                self._index_version = ""
        return self._index_version

    def tool_context(self) -> ToolContext:
        who = self.who
        return self.svc.toolbox.context(
            who.tenant, who.tools, role=who.role, key_id=who.key_id, request_id=self.request_id
        )

    # -- budget and model ---------------------------------------------------------------------------------------

    async def reserve(self, route: Route, request: ModelRequest) -> None:
        """Check limits and reserve the budget, atomically (429 / 402 on refusal)."""
        self._ticket = await self.svc.metering.reserve(self.who, route, request, self.table)

    async def open(self, route: Route, request: ModelRequest, *, buffered: bool) -> RoutedStream:
        """Call the model; from here on an unfinished request is `aborted`, not `rejected`."""
        with self.timings.step("model", route=route.name, buffered=buffered) as span:
            self._stream = await self.svc.router.open(route, request, buffered=buffered, table=self.table)
            span.set_attributes(
                {"netops.deployment": self._stream.deployment.name, "netops.attempts": len(self._stream.attempts)}
            )
        degraded = self._stream.degraded()
        if degraded is not None:
            self.svc.metrics.degraded.labels(route.name, degraded["from"], degraded["to"]).inc()
        return self._stream

    async def settle(self, deployment: Deployment, *, prompt_tokens: int, completion_tokens: int) -> float:
        """Book the actual usage (once); returns the cost in USD."""
        ticket, self._ticket = self._ticket, None
        self.timings.annotate(**{"netops.prompt_tokens": prompt_tokens, "netops.completion_tokens": completion_tokens})
        return await self.svc.metering.settle(
            ticket, deployment, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    # -- outcome ------------------------------------------------------------------------------------------------

    async def complete(self, event: AuditEvent) -> None:
        """The request succeeded: write `event` as its final audit record now, before the answer ends."""
        self._final = event
        await self._close(200)

    def reject(self, status: int, code: str, detail: str) -> None:
        """A problem response is being sent (called by the one error table)."""
        self._problem = (status, code, detail)

    async def close(self, status: int) -> None:
        """Write the one final event and settle the budget once, then end the request's span; idempotent."""
        await self._close(status)
        self._traced()

    async def _close(self, status: int) -> None:
        if self.outcome is not None:
            return
        if self._problem is not None:
            status = self._problem[0]
        with anyio.CancelScope(shield=True):
            await self._settle_leftover()
            event = self._final_event(status)
            self.outcome = Outcome(status, self._problem[1] if self._problem else "", event.kind if event else "")
            if self._problem is not None:
                self.svc.metrics.rejections.labels(self._problem[1]).inc()
            if event is not None:
                if self.via and not event.via:
                    event = replace(event, via=self.via)
                with self.timings.step("audit", kind=event.kind):
                    await self.svc.audit.append_async(event)
            if self.arms:  # judged by a config rollout's candidate or baseline: count it, maybe roll back
                blocked = self._problem is not None and self._problem[1] == "guardrail_blocked"
                await asyncio.to_thread(self._count_arms, blocked=blocked, error=status >= 500)
            if self.choice is not None and self._stream is not None:  # a model answered (or began to)
                served = self._served(status)
                if served.rollout:
                    await asyncio.to_thread(self.svc.rollouts.record, served)
                elif served.shown:
                    self.svc.rollouts.defer(served)

    def _traced(self) -> None:
        """End the request's span and count its steps (ids, names and the outcome: no text)."""
        assert self.outcome is not None
        o = self.outcome
        tags: dict[str, str | int] = {"netops.tenant": self.tenant, "http.route": self.route, "netops.code": o.code}
        tags |= {"netops.event": o.event, "netops.model": self.model, "http.response.status_code": o.status}
        total_ms = (time.perf_counter() - self._started) * 1000
        self.timings.finish(total_ms, tags, error=o.status >= 500, gateway=bool(self.model))

    def _count_arms(self, *, blocked: bool, error: bool) -> None:
        for rollout, arm in self.arms:
            try:
                self.svc.config.count(rollout, arm, blocked=blocked, error=error)
            except SQLAlchemyError as exc:  # the store is down: the request is done, its count is lost
                log.warning("config rollout count failed: %s", type(exc).__name__)

    async def _settle_leftover(self) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is None:
            return
        if self._stream is not None:  # the model was called: usage unknown, keep the whole reservation
            await self.svc.metering.forfeit(ticket)
        else:
            await self.svc.metering.release(ticket)

    def _served(self, status: int) -> Served:
        """This request for the prompt version's counters: a guard block, or an error that is not the client's."""
        assert self.choice is not None
        code = self._problem[1] if self._problem else ""
        blocked = code == "guardrail_blocked"
        return Served(
            self.tenant,
            self.request_id,
            self.choice.prompts.version,
            self.choice.rollout,
            blocked=blocked,
            error=status >= 500 or (bool(code) and not blocked and code != "client_gone" and self._final is None),
            unsupported=self.unsupported,
            latency_ms=(time.perf_counter() - self._started) * 1000,
        )

    def _final_event(self, status: int) -> AuditEvent | None:
        code, detail = (self._problem[1], self._problem[2]) if self._problem else ("", "")
        if code in AUTH_CODES and self.principal is None:
            return AuthFailed(
                tenant=ANONYMOUS,
                request_id=self.request_id,
                method=self.method,
                route=self.route,
                code=code,
                client=self.client,
            )
        if not self.audited:
            return None
        if self._final is not None:
            return self._final
        if self._stream is not None:
            return self._aborted(code or "client_gone")
        if self._problem is not None or status >= 400:
            return RequestRejected(
                tenant=self.tenant,
                request_id=self.request_id,
                key_id=self.key_id,
                route=self.model or self.route,
                code=code or f"http_{status}",
                detail=detail[:300],
                status=status,
                method=self.method,
                verdicts=self.trail.summaries(),
            )
        return RequestCompleted(
            tenant=self.tenant,
            request_id=self.request_id,
            key_id=self.key_id,
            method=self.method,
            route=self.route,
            status=status,
            detail=self.details,
        )

    def _aborted(self, code: str) -> RequestAborted:
        assert self._stream is not None
        return RequestAborted(
            tenant=self.tenant,
            request_id=self.request_id,
            key_id=self.key_id,
            route=self.model,
            code=code,
            deployment=self._stream.deployment.name,
            prompts=self.prompts.version,
            completion_chars=self.completion_chars,
            verdicts=self.trail.summaries(),
        )
