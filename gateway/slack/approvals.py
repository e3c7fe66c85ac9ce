"""Change approvals in Slack: a proposal posts a card (exact commands, before-state, rollback) with Approve and
Deny buttons; a click is decided by the gateway with the clicking user's own key, so roles and the two-person
rule (the proposer's key is refused, 403 `approval_refused`) are enforced there, not here.

Exactly once: a click is claimed by its id before anything happens (Slack's retries and redelivered envelopes
are dropped), the gateway's conditional update lets only one of two simultaneous approvals run the action (the
other gets 409 `action_not_pending`, shown to its clicker only), and the card update is claimed per outcome.

Example:
    await propose(parts, caller, "interface_no_shutdown", {"device": "r1", "interface": "r1-r3"})
    await decide(parts, where, action_id="3f2a...", decision="approve", card_ts="1712.0002", click="Tr123")
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.slack.blocks import approval_card, fallback
from gateway.slack.errors import GatewayRefused
from gateway.slack.parts import Caller, Parts, Where
from gateway.slack.store import ThreadItem

__all__ = ["decide", "post_card", "propose"]


async def propose(parts: Parts, caller: Caller, tool: str, arguments: dict[str, Any]) -> None:
    """Invoke a change tool (it only proposes a pending action) and post its approval card in the thread."""
    try:
        result = await parts.gateway.invoke(caller.key, caller.where.channel, tool, arguments)
    except GatewayRefused as exc:
        await parts.refused(caller, "propose", exc)
        return
    output = str(result.get("output", ""))
    action_id = output.split("pending action ", 1)[1].split(" ", 1)[0] if "pending action " in output else ""
    if not action_id:
        await parts.ephemeral(caller.where, f"`{tool}` is not a change tool; it ran: ```{output[:1500]}```")
        await parts.handled(caller, "propose", "not_a_change", [result["_request_id"]])
        return
    await post_card(parts, caller, action_id, requests=[result["_request_id"]])


async def post_card(parts: Parts, caller: Caller, action_id: str, *, requests: list[str] | None = None) -> None:
    """The approval card for a pending action, in the caller's thread, recorded on the thread's timeline."""
    w = caller.where
    action = await parts.gateway.action(caller.key, w.channel, action_id)
    blocks = approval_card(action, proposer=w.user)
    await parts.slack.chat_postMessage(channel=w.channel, thread_ts=w.thread_ts, text=fallback(blocks), blocks=blocks)
    note = f"proposed {action['tool']} on {action['device']} (action {action_id})"
    rids = [*(requests or []), action["_request_id"]]
    await asyncio.to_thread(
        parts.store.add,
        w.channel,
        w.thread_ts,
        caller.tenant,
        ThreadItem("approval", note, rids[0], w.user, time.time()),
    )
    await parts.handled(caller, "propose", "ok", rids, action_id=action_id)


async def decide(parts: Parts, where: Where, *, action_id: str, decision: str, card_ts: str, click: str) -> None:
    """One click on a card: claimed once, decided by the gateway, the card updated once per outcome."""
    if not await asyncio.to_thread(parts.store.claim, f"click:{click}"):
        return
    caller = await parts.resolve(where, decision)
    if caller is None:
        return
    try:
        action = await parts.gateway.decide(caller.key, where.channel, action_id, decision)
    except GatewayRefused as exc:
        await parts.refused(caller, decision, exc, action_id=action_id)
        return
    rid = str(action["_request_id"])
    outcome = f"{action['status']}:{len(action.get('approvals') or [])}"
    if await asyncio.to_thread(parts.store.claim, f"card:{action_id}:{outcome}"):
        proposer = await _proposer(parts, action)
        note = f" by <@{where.user}>"
        blocks = approval_card(action, proposer=proposer, note=note)
        await parts.slack.chat_update(channel=where.channel, ts=card_ts, text=fallback(blocks), blocks=blocks)
    text = (
        f"{decision} by {where.user}: {action['tool']} on {action['device']} -> {action['status']} (action {action_id})"
    )
    item = ThreadItem("approval", text, rid, where.user, time.time())
    await asyncio.to_thread(parts.store.add, where.channel, where.thread_ts, caller.tenant, item)
    await parts.handled(caller, decision, str(action["status"]), [rid], action_id=action_id)


async def _proposer(parts: Parts, action: dict[str, Any]) -> str:
    user = await asyncio.to_thread(parts.store.user_by_key, str(action.get("requested_by", "")))
    return user.user if user else "unknown"
