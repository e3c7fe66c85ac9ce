"""The bot's entry points, one per kind of Slack payload (Bolt hands them over in `wiring.py`), whatever the
transport (Socket Mode or `POST /slack/events`):

    app_mention            -> ask (or `propose ...`), answered in the mention's thread
    message in a thread    -> a follow-up, if the bot answers in that thread (no mention needed)
    /netops <subcommand>   -> commands.run_command
    block_actions          -> approvals.decide (Approve / Deny on a card)

Each payload is claimed once by its Slack id (event id, or the command's or click's trigger id) before any
work, so retries (`X-Slack-Retry-Num`) and redelivered envelopes never answer twice or run a tool twice.

Example:
    bot = NetOpsBot(parts)
    await bot.on_mention(body)          # body: the Events API envelope of an app_mention event
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from gateway.slack.approvals import decide, propose
from gateway.slack.ask import ask
from gateway.slack.blocks import APPROVE
from gateway.slack.commands import HELP, parse_arguments, run_command
from gateway.slack.parts import Parts, Where

__all__ = ["NetOpsBot"]

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class NetOpsBot:
    """Turns Slack payloads into gateway requests for the Slack user who sent them."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    async def on_mention(self, body: dict[str, Any]) -> None:
        event = body["event"]
        if not await self._first(f"event:{body.get('event_id') or event.get('event_ts') or event['ts']}"):
            return
        where = Where(
            str(body.get("team_id") or event.get("team", "")),
            event["channel"],
            event.get("user", ""),
            str(event.get("thread_ts") or event["ts"]),
        )
        await self._question(where, _MENTION.sub("", event.get("text", "")).strip())

    async def on_message(self, body: dict[str, Any]) -> None:
        """A plain message: only a follow-up in a thread the bot knows, from a person, without a mention."""
        event = body["event"]
        thread = event.get("thread_ts")
        if not thread or event.get("subtype") or event.get("bot_id") or _MENTION.search(event.get("text", "")):
            return
        if not await asyncio.to_thread(self.parts.store.known_thread, event["channel"], thread):
            return
        if not await self._first(f"event:{body.get('event_id') or event['ts']}"):
            return
        where = Where(
            str(body.get("team_id") or event.get("team", "")), event["channel"], event.get("user", ""), thread
        )
        await self._question(where, event.get("text", "").strip())

    async def on_command(self, body: dict[str, Any]) -> None:
        if not await self._first(f"command:{body.get('trigger_id', '')}"):
            return
        where = Where(body["team_id"], body["channel_id"], body["user_id"])
        text = str(body.get("text", "")).strip()
        if not text or text == "help":
            await self.parts.ephemeral(where, HELP)
            return
        caller = await self.parts.resolve(where, "command")
        if caller is not None:
            await run_command(self.parts, caller, text)

    async def on_action(self, body: dict[str, Any]) -> None:
        action = body["actions"][0]
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
        where = Where(body["team"]["id"], channel, body["user"]["id"], str(message.get("thread_ts") or ""))
        await decide(
            self.parts,
            where,
            action_id=str(action["value"]),
            decision="approve" if action["action_id"] == APPROVE else "deny",
            card_ts=str(message.get("ts") or body["container"]["message_ts"]),
            click=str(body.get("trigger_id") or action.get("action_ts")),
        )

    async def _question(self, where: Where, text: str) -> None:
        if not text:
            await self.parts.ephemeral(where, HELP)
            return
        caller = await self.parts.resolve(where, "ask")
        if caller is None:
            return
        if text.startswith("propose "):
            tool, *pairs = text.removeprefix("propose ").split()
            await propose(self.parts, caller, tool, parse_arguments(pairs))
            return
        await ask(self.parts, caller, text)

    async def _first(self, key: str) -> bool:
        return await asyncio.to_thread(self.parts.store.claim, key)
