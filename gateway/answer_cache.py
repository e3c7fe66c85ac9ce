"""The answer caches on the request path: which requests may be cached and under which keys, the lookup (exact,
then semantic), and keeping a fresh answer (`gateway.pipeline` calls these; the caches are `gateway.cache`).

Example:
    keys = await cache_keys(turn, req, route, history)
    found = await cached_answer(turn, keys, question) if keys else None
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from functools import partial

from gateway.cache import CachedAnswer, CacheHit, Caches, cache_key, entities
from gateway.schemas import ChatCompletionRequest
from gateway.steps import last_user_text
from gateway.turn import Turn
from routing import Route

__all__ = ["Keys", "cache_keys", "cached_answer", "digest", "keep"]

_log = logging.getLogger("netops.cache")


@dataclass(frozen=True, slots=True)
class Keys:
    """Where a request's answer may be cached: its exact key, and for a one-question conversation the scope and
    entities under which the semantic cache may match a similar question."""

    exact: str
    scope: str
    entities: tuple[str, ...] | None  # None: not a one-question conversation (no semantic match)


async def cache_keys(
    turn: Turn, req: ChatCompletionRequest, route: Route, history: list[tuple[str, str]]
) -> Keys | None:
    """The cache keys of a deterministic request (temperature 0), or None when it may not be cached: everything
    that decides the answer is in them, from the tenant to the guarded prompt and the live index version."""
    temperature = route.temperature if req.temperature is None else req.temperature
    if temperature != 0 or req.forced_tool is not None:
        return None
    caches = turn.svc.caches
    if not turn.cached:
        caches.answers.bypassed()
        return None
    who = turn.who
    parts = {
        "route": route.name,
        "routes": turn.table.version,
        "prompts": turn.prompts.version,
        "policy": turn.guards.policy_id,
        "index": await turn.index_version() if route.assistant else "",
        "max_tokens": req.token_limit,
        "tool_choice": str(req.tool_choice),
        "format": req.structured or "",
        "clearance": who.clearance,
        "role": who.role,
        "grants": sorted(who.tools),
        "context": digest([(r, t) for r, t in history if r != "user"]),  # system messages
    }
    exact = cache_key(turn.tenant, "response", {**parts, "prompt": digest(history)})
    single = sum(r == "user" for r, _ in history) == 1 and all(r in ("system", "developer", "user") for r, _ in history)
    semantic = caches.settings.semantic and turn.svc.semantic is not None and single and req.structured is None
    names = [d.name for d in turn.svc.toolbox.inventory.for_tenant(turn.tenant).devices] if semantic else []
    found = entities(last_user_text(history), names) if semantic else None
    return Keys(exact, cache_key(turn.tenant, "scope", parts).rsplit("\x1f", 1)[-1], found)


async def cached_answer(
    turn: Turn, keys: Keys, question: str
) -> tuple[CacheHit[CachedAnswer], dict[str, object]] | None:
    """An exact hit, else a semantic one (same scope and entities, similar question), with what to report."""
    caches, memory = turn.svc.caches, turn.svc.semantic
    hit = caches.answers.get(keys.exact)
    if hit is not None:
        return hit, {"kind": "response"}
    if keys.entities is None or memory is None:
        return None
    threshold = caches.settings.semantic_threshold
    try:
        recall = await asyncio.to_thread(
            memory.recall, turn.tenant, keys.scope, question, keys.entities, threshold=threshold
        )
    except Exception as exc:  # noqa: BLE001 - a cache that cannot answer is a miss, never a failed request
        _log.warning("semantic cache recall failed: %s", type(exc).__name__)
        recall = None
    caches.semantic_lookup(hit=recall is not None)
    if recall is None:
        return None
    answer = CachedAnswer(**recall.value)
    return CacheHit(answer, recall.age_s), {"kind": "semantic", "similarity": round(recall.score, 4)}


def keep(turn: Turn, keys: Keys, question: str, answer: CachedAnswer) -> None:
    """Store an answer in the response cache, and (in the background) in the semantic cache."""
    turn.svc.caches.answers.put(keys.exact, answer)
    memory = turn.svc.semantic
    if keys.entities is None or memory is None:
        return
    value = dataclasses.asdict(answer)
    job = asyncio.get_running_loop().run_in_executor(
        None, memory.remember, turn.tenant, keys.scope, question, keys.entities, value
    )
    job.add_done_callback(partial(_remembered, turn.svc.caches))


def _remembered(caches: Caches, job: asyncio.Future[None]) -> None:
    if job.cancelled():
        return
    if job.exception() is not None:
        _log.warning("semantic cache remember failed: %s", type(job.exception()).__name__)
    else:
        caches.semantic_stored()


def digest(history: list[tuple[str, str]]) -> str:
    """A digest of the guarded prompt: lets an auditor match a request without keeping its text."""
    return hashlib.sha256("\x1e".join(f"{r}\x1f{t}" for r, t in history).encode()).hexdigest()
