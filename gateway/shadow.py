"""Shadow answers: in a shadow rollout (`gateway.rollout`), the candidate prompt version answers each request
again, after the real answer was sent.

The shadow answer goes through the tenant's output guardrails and the unsupported-claim check, is counted under
the candidate (`Served(shown=False)`) and audited as `prompts.shadow` (a digest, never the text). It is never
shown, runs no tools (a second run could change a device) and books no budget. It never delays or changes the
real answer: it starts once that answer's final audit record is written, in the background, at most
`concurrency` at once; when `queue` jobs already wait, a new one is dropped (and logged).

Example:
    shadows = Shadows(router, rollouts, audit, concurrency=1, queue=8)
    shadows.submit(job)   # False if dropped
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.audit import AuditLog
from gateway.events import ShadowAnswered
from gateway.prompting import PromptSet, build_messages, evidence_message
from gateway.rollout import Rollouts
from gateway.rollout_model import Served
from guardrails import Blocked, GuardChain, GuardrailError, ScanContext, Stage, Vault
from retrieval import Hit
from routing import ModelRequest, Route, Router, RoutingError, StreamEnd, TextDelta
from tools.diagnosis import check_answer

__all__ = ["ShadowJob", "Shadows", "shadow_request"]

log = logging.getLogger("netops.gateway")


@dataclass(frozen=True, slots=True)
class ShadowJob:
    """Everything a shadow answer needs, copied from the finished request (its Turn is gone by then)."""

    tenant: str
    request_id: str
    rollout: str
    prompts: PromptSet  # the candidate
    route: Route
    request: ModelRequest  # built with the candidate's prompts
    output: GuardChain  # the tenant's output guardrails
    vault: Vault
    question: str
    outputs: tuple[str, ...]  # the checks' outputs the answer is checked against (empty: no check ran)
    names: tuple[str, ...]


def shadow_request(
    prompts: PromptSet,
    shown: ModelRequest,
    history: Sequence[tuple[str, str]],
    excerpts: Sequence[tuple[Hit, str]],
    findings: str,
) -> ModelRequest:
    """The shown answer's first model request, rebuilt with the candidate's prompts, without tools."""
    messages = build_messages(prompts, history, excerpts)
    if findings:
        messages.append(evidence_message(prompts, findings))
    return replace(shown, messages=messages, tools=[], tool_choice=None)


class Shadows:
    """The background runner of shadow answers (see the module docstring)."""

    def __init__(self, router: Router, rollouts: Rollouts, audit: AuditLog, *, concurrency: int, queue: int) -> None:
        self._router = router
        self._rollouts = rollouts
        self._audit = audit
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Shadow answers running or waiting."""
        return len(self._tasks)

    def submit(self, job: ShadowJob) -> bool:
        """Start a shadow answer in the background; False (dropped) when too many wait already."""
        if len(self._tasks) >= self._queue:
            log.warning("shadow answer for request %s dropped: %d already pending", job.request_id, len(self._tasks))
            return False
        task = asyncio.create_task(self._guarded(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _guarded(self, job: ShadowJob) -> None:
        try:
            async with self._slots:
                await self._run(job)
        except Exception as exc:  # a background task's boundary: log, never crash the server
            log.error("shadow answer for request %s failed", job.request_id, exc_info=exc)

    async def _run(self, job: ShadowJob) -> None:
        started = time.perf_counter()
        text, tokens, blocked, error = "", 0, False, ""
        try:
            text, tokens = await self._answer(job)
            await job.output.arun(text, ScanContext(job.tenant, Stage.OUTPUT, job.vault))
        except Blocked:
            blocked = True
        except (RoutingError, GuardrailError) as exc:
            error = exc.code
        checked = bool(job.outputs) and not (blocked or error) and text.strip()
        unsupported = len(check_answer(text, job.outputs, question=job.question, names=job.names)) if checked else 0
        latency = (time.perf_counter() - started) * 1000
        event = ShadowAnswered(
            tenant=job.tenant,
            request_id=job.request_id,
            rollout=job.rollout,
            version=job.prompts.version,
            answer_digest=hashlib.sha256(text.encode()).hexdigest(),
            completion_tokens=tokens,
            blocked=blocked,
            unsupported=unsupported,
            error=error,
            latency_ms=round(latency, 1),
        )
        await self._audit.append_async(event)
        served = Served(
            job.tenant,
            job.request_id,
            job.prompts.version,
            job.rollout,
            blocked=blocked,
            error=bool(error),
            unsupported=unsupported,
            latency_ms=latency,
            shown=False,
        )
        await asyncio.to_thread(self._rollouts.record, served)

    async def _answer(self, job: ShadowJob) -> tuple[str, int]:
        stream = await self._router.open(job.route, job.request, buffered=True)
        parts: list[str] = []
        tokens = 0
        async for event in stream:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, StreamEnd):
                tokens = event.completion_tokens
        return "".join(parts), tokens
