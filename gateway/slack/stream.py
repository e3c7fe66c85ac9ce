"""A Slack message that follows a streamed answer: posted once, then `chat.update`d at most once per
`interval` seconds (Slack's chat.update tier allows about one a second per message), and always once at the end.

Slack's own rate limits (429 with Retry-After) are honoured by the Web API client's retry handler
(`wiring.web_client`): a throttled update waits and is sent again, never dropped.

Example:
    live = await LiveMessage.post(slack, channel="C1", thread_ts="1712.0001", interval=1.0)
    await live.show(blocks)               # sent if a second has passed since the last update
    await live.show(blocks, final=True)   # always sent
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from gateway.slack.blocks import Block, fallback

__all__ = ["LiveMessage"]


@dataclass
class LiveMessage:
    """One bot message being updated; `updates` counts the chat.update calls, `posted_at` / `final_at` time them."""

    slack: AsyncWebClient
    channel: str
    ts: str
    interval: float
    updates: int = 0
    posted_at: float = field(default_factory=time.monotonic)
    final_at: float = 0.0
    _last: float = 0.0
    _pending: list[Block] | None = None

    @classmethod
    async def post(
        cls, slack: AsyncWebClient, *, channel: str, thread_ts: str, interval: float, blocks: list[Block]
    ) -> LiveMessage:
        response = await slack.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=fallback(blocks), blocks=blocks
        )
        live = cls(slack, channel, str(response["ts"]), interval)
        live._last = time.monotonic()
        return live

    async def show(self, blocks: list[Block], *, final: bool = False) -> None:
        """Update now if the interval has passed (or `final`); otherwise keep the blocks for the next update."""
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            self._pending = blocks
            return
        self._pending = None
        self._last = now
        await self._update(blocks)
        if final:
            self.final_at = time.monotonic()

    async def _update(self, blocks: list[Block]) -> Any:
        self.updates += 1
        return await self.slack.chat_update(channel=self.channel, ts=self.ts, text=fallback(blocks), blocks=blocks)
