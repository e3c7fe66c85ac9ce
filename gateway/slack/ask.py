"""Questions and pasted alerts: `@netops ...`, `/netops ask ...` and follow-ups in a thread the bot answers in.

    redact (the tenant's input guardrails, via the gateway) -> the thread's guarded history + the question
    -> POST /v1/chat/completions (stream) with the user's key -> a thread reply updated as checks run and text
    arrives (at most once a second) -> the final Block Kit answer -> thread items, approval cards, audit

Only redacted text is kept (thread history, incident timeline); the answer is the gateway's guarded output,
so a secret pasted into Slack reaches neither the model nor the bot's own messages.

Example:
    await ask(parts, caller, "InterfaceDown{instance=\"r1\", interface=\"r1-r3\"}")
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from gateway.slack.approvals import post_card
from gateway.slack.blocks import answer_blocks
from gateway.slack.client import ChatStream, Delta, Done, Progress
from gateway.slack.errors import GatewayRefused
from gateway.slack.parts import Caller, Parts
from gateway.slack.store import ThreadItem
from gateway.slack.stream import LiveMessage

__all__ = ["Answered", "ask", "redact"]

_PENDING = re.compile(r"pending action ([0-9a-f]{8,32})")
_HISTORY = 10  # thread items (questions and answers) sent back as the conversation


@dataclass
class Answered:
    """What one answer produced: the gateway's request ids, the final text and report, and the live message."""

    requests: list[str] = field(default_factory=list)
    text: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    message: LiveMessage | None = None


async def redact(parts: Parts, caller: Caller, text: str) -> str | None:
    """The text through the tenant's input guardrails (secrets and PII replaced); None, after an ephemeral
    refusal, when a guardrail blocks it."""
    scanned = await parts.gateway.scan(caller.key, caller.where.channel, text)
    blocked = [v for v in scanned.get("verdicts", []) if v.get("action") == "block"]
    if blocked:
        await parts.ephemeral(
            caller.where, f":no_entry: Blocked by the `{blocked[0]['scanner']}` guardrail: {blocked[0]['reason']}"
        )
        await parts.handled(caller, "ask", "guardrail_blocked", [scanned["_request_id"]])
        return None
    return str(scanned["text"])


async def ask(parts: Parts, caller: Caller, raw: str) -> Answered | None:
    """Answer in the caller's thread; a refusal (limits, guardrails, roles) is an ephemeral message."""
    try:
        question = await redact(parts, caller, raw)
        if question is None:
            return None
        answered = await _answer(parts, caller, question)
    except GatewayRefused as exc:
        await parts.refused(caller, "ask", exc)
        return None
    await _record(parts, caller, question, answered)
    for tool in answered.report.get("tools") or []:
        match = _PENDING.search(str(tool.get("output", "")))
        if match:
            await post_card(parts, caller, match.group(1))
    await parts.handled(caller, "ask", "ok", answered.requests)
    return answered


async def _answer(parts: Parts, caller: Caller, question: str) -> Answered:
    w = caller.where
    history = await asyncio.to_thread(parts.store.thread, w.channel, w.thread_ts, caller.tenant)
    messages = [
        {"role": "user" if i.kind == "question" else "assistant", "content": i.text}
        for i in history
        if i.kind in ("question", "answer")
    ][-_HISTORY:]
    messages.append({"role": "user", "content": question})
    answered = Answered()
    thread = f"slack:{w.channel}:{w.thread_ts}"  # a thread stays on one prompt version during a canary rollout
    limit = parts.settings.max_tokens
    async with parts.gateway.chat(caller.key, w.channel, messages, max_tokens=limit, conversation=thread) as stream:
        answered.requests.append(stream.request_id)
        first = answer_blocks("", {}, progress=["looking into it…"], final=False)
        live = await LiveMessage.post(
            parts.slack,
            channel=w.channel,
            thread_ts=w.thread_ts,
            interval=parts.settings.update_interval_s,
            blocks=first,
        )
        answered.message = live
        try:
            await _relay(stream, live, answered)
        except GatewayRefused as exc:  # mid-answer (the backend died, a guardrail stopped it): say so in place
            stopped = answer_blocks(f":warning: The answer stopped: {exc.code}.", {}, progress=[], final=True)
            await live.show(stopped, final=True)
            raise
    return answered


async def _relay(stream: ChatStream, live: LiveMessage, answered: Answered) -> None:
    progress: list[str] = []
    text: list[str] = []
    findings: dict[str, Any] = {}
    async for item in stream:
        if isinstance(item, Progress):
            progress.append(_progress_line(item.netops))
            if item.netops.get("event") == "findings":
                findings = {"findings": item.netops.get("findings", [])}
        elif isinstance(item, Delta):
            text.append(item.text)
        elif isinstance(item, Done):
            answered.text, answered.report = "".join(text), item.netops
            await live.show(answer_blocks(answered.text, item.netops, progress=progress, final=True), final=True)
            return
        await live.show(answer_blocks("".join(text), findings, progress=progress, final=False))


def _progress_line(netops: dict[str, Any]) -> str:
    event = netops.get("event", "")
    check = netops.get("check") or {}
    args = " ".join(str(v) for v in (check.get("arguments") or {}).values())
    if event == "check.start":
        return f":hourglass_flowing_sand: {check.get('tool', '')} {args}"
    if event == "check.end":
        return f"{':white_check_mark:' if check.get('ok') else ':x:'} {check.get('tool', '')} {args}"
    return f":mag: {len(netops.get('findings') or [])} finding(s)"


async def _record(parts: Parts, caller: Caller, question: str, answered: Answered) -> None:
    """The thread's conversation and timeline: the redacted question, the guarded answer, findings, tools."""
    w, now, rid = caller.where, time.time(), answered.requests[-1] if answered.requests else ""
    items = [ThreadItem("question", question, rid, w.user, now), ThreadItem("answer", answered.text, rid, w.user, now)]
    items += [
        ThreadItem("finding", str(f["headline"]), rid, w.user, now) for f in answered.report.get("findings") or []
    ]
    for ran in [*(answered.report.get("checks") or []), *(answered.report.get("tools") or [])]:
        args = " ".join(f"{k}={v}" for k, v in (ran.get("arguments") or {}).items())
        items.append(ThreadItem("tool", f"{ran['name']} {args}", rid, w.user, now))
    for item in items:
        await asyncio.to_thread(parts.store.add, w.channel, w.thread_ts, caller.tenant, item)
