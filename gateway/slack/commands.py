"""`/netops` subcommands beside `ask`: `status`, `search <q>`, `incident start <title>`, `incident summary`,
`propose <tool> key=value ...` and `help`.

Slash commands carry no thread: `incident start` opens one (a channel message whose thread collects the
timeline) and `incident summary` summarises the channel's latest incident in its thread.

Example:
    await run_command(parts, caller, "search bgp neighbor stuck in active")
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import replace
from typing import Any

from gateway.slack.approvals import propose
from gateway.slack.ask import ask, redact
from gateway.slack.blocks import escape, fallback, search_blocks, section, status_blocks, summary_blocks
from gateway.slack.errors import GatewayRefused
from gateway.slack.parts import Caller, Parts
from gateway.slack.store import ThreadItem

__all__ = ["HELP", "parse_arguments", "run_command"]

HELP = (
    "*NetOps*: `@netops <question or pasted alert>` in a mapped channel, or\n"
    "`/netops ask <question>` · `/netops status` · `/netops search <query>` · "
    "`/netops incident start <title>` · `/netops incident summary` · `/netops propose <tool> key=value ...`"
)


async def run_command(parts: Parts, caller: Caller, text: str) -> None:
    """Dispatch one `/netops` command text (the caller is already resolved)."""
    verb, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    try:
        if verb == "ask" and rest:
            await _ask_in_new_thread(parts, caller, rest)
        elif verb == "status":
            await _status(parts, caller)
        elif verb == "search" and rest:
            await _search(parts, caller, rest)
        elif verb == "incident" and rest.startswith("start"):
            await _incident_start(parts, caller, rest.removeprefix("start").strip() or "untitled incident")
        elif verb == "incident" and rest == "summary":
            await _incident_summary(parts, caller)
        elif verb == "propose" and rest:
            tool, *pairs = rest.split()
            await propose(parts, caller, tool, parse_arguments(pairs))
        else:
            await parts.ephemeral(caller.where, HELP)
    except GatewayRefused as exc:
        await parts.refused(caller, verb or "help", exc)


def parse_arguments(pairs: list[str]) -> dict[str, Any]:
    """`device=r1 interface=r1-r3` -> {"device": "r1", "interface": "r1-r3"} (the gateway validates them)."""
    out: dict[str, Any] = {}
    for pair in shlex.split(" ".join(pairs)):
        key, sep, value = pair.partition("=")
        if sep:
            out[key] = value
    return out


async def _ask_in_new_thread(parts: Parts, caller: Caller, question: str) -> None:
    """A slash command has no thread: post an anchor message and answer under it."""
    posted = await parts.slack.chat_postMessage(
        channel=caller.where.channel, text=f":speech_balloon: <@{caller.where.user}> asked NetOps"
    )
    await ask(parts, replace(caller, where=replace(caller.where, thread_ts=str(posted["ts"]))), question)


async def _status(parts: Parts, caller: Caller) -> None:
    w = caller.where
    ready = await parts.gateway.readiness()
    models = await parts.gateway.models(caller.key, w.channel)
    inventory = await parts.gateway.inventory(caller.key, w.channel)
    blocks = status_blocks(ready, [m["id"] for m in models["data"]], inventory["data"])
    await parts.slack.chat_postEphemeral(channel=w.channel, user=w.user, text=fallback(blocks), blocks=blocks)
    await parts.handled(caller, "status", "ok", [models["_request_id"], inventory["_request_id"]])


async def _search(parts: Parts, caller: Caller, query: str) -> None:
    w = caller.where
    found = await parts.gateway.search(caller.key, w.channel, query)
    blocks = search_blocks(query, found["results"], parts.public_url)
    await parts.slack.chat_postEphemeral(channel=w.channel, user=w.user, text=fallback(blocks), blocks=blocks)
    await parts.handled(caller, "search", "ok", [found["_request_id"]])


async def _incident_start(parts: Parts, caller: Caller, title: str) -> None:
    w = caller.where
    clean = await redact(parts, caller, title)
    if clean is None:
        return
    posted = await parts.slack.chat_postMessage(
        channel=w.channel,
        text=f"Incident: {clean}",
        blocks=[
            section(
                f":rotating_light: *Incident: {escape(clean)}*\nstarted by <@{w.user}>. "
                "Ask in this thread (`@netops ...`); `/netops incident summary` summarises it."
            )
        ],
    )
    ts = str(posted["ts"])
    incident = await asyncio.to_thread(
        parts.store.start_incident, w.team, w.channel, ts, tenant=caller.tenant, title=clean, user=w.user
    )
    opened = ThreadItem("incident", f"incident started: {clean}", "", w.user, incident.started_at)
    await asyncio.to_thread(parts.store.add, w.channel, ts, caller.tenant, opened)
    await parts.handled(replace(caller, where=replace(w, thread_ts=ts)), "incident.start", "ok", [])


async def _incident_summary(parts: Parts, caller: Caller) -> None:
    w = caller.where
    incident = await asyncio.to_thread(parts.store.latest_incident, w.team, w.channel)
    if incident is None or incident.tenant != caller.tenant:
        await parts.ephemeral(w, "No incident in this channel yet: `/netops incident start <title>` opens one.")
        return
    items = await asyncio.to_thread(parts.store.thread, w.channel, incident.thread_ts, caller.tenant)
    blocks = summary_blocks(incident, items)
    await parts.slack.chat_postMessage(
        channel=w.channel, thread_ts=incident.thread_ts, text=fallback(blocks), blocks=blocks
    )
    where = replace(w, thread_ts=incident.thread_ts)
    await parts.handled(
        replace(caller, where=where), "incident.summary", incident.id, sorted({i.request_id for i in items})
    )
