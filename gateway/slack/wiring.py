"""Builds the bot once from the settings: Slack's Web API client (with Slack's 429 Retry-After honoured), the
gateway client, the store, the keys file and the audit log, and a Bolt app whose listeners hand each payload
to `NetOpsBot`. The only module that imports `slack_bolt`.

Bolt acknowledges first and works after (`process_before_response=False`): events are acknowledged by Bolt
itself, commands and clicks by `ack()` as the listener's first call, well inside Slack's 3 seconds.

Example:
    bot = build_bot(settings, engine=svc.engine, audit=svc.audit)
    app = bolt_app(bot, settings.slack)
    runner = SocketMode(app, settings.slack)       # Socket Mode: no public URL
    await runner.start()
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from gateway.audit import AuditLog
from gateway.settings import Settings, SlackSettings
from gateway.slack.blocks import APPROVE, DENY
from gateway.slack.bot import NetOpsBot
from gateway.slack.client import GatewayClient
from gateway.slack.keys import KeyFile
from gateway.slack.parts import Parts
from gateway.slack.store import SlackStore

__all__ = ["SocketMode", "bolt_app", "build_bot", "gateway_url", "web_client"]

_log = logging.getLogger("netops.slack")


def web_client(slack: SlackSettings) -> AsyncWebClient:
    """Slack's Web API at `slack.api_url`, retrying 429s after their Retry-After (up to 5 times)."""
    token = slack.bot_token.get_secret_value() if slack.bot_token else None
    handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=5)]
    return AsyncWebClient(token=token, base_url=slack.api_url, retry_handlers=handlers)


def gateway_url(settings: Settings) -> str:
    """Where the bot reaches the gateway: `slack.gateway_url`, else the server's own address."""
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    return settings.slack.gateway_url or f"http://{host}:{settings.server.port}"


def build_bot(settings: Settings, *, engine: Engine, audit: AuditLog, url: str | None = None) -> NetOpsBot:
    """The bot over the gateway at `url` (default `gateway_url(settings)`)."""
    slack = settings.slack
    base = url or gateway_url(settings)
    parts = Parts(
        slack=web_client(slack),
        gateway=GatewayClient(base),
        store=SlackStore(engine),
        keys=KeyFile(slack.keys_file or settings.data_dir / "slack-keys.json"),
        audit=audit,
        settings=slack,
        public_url=settings.server.public_url or base,
    )
    return NetOpsBot(parts)


def bolt_app(bot: NetOpsBot, slack: SlackSettings) -> AsyncApp:
    """A Bolt app routing mentions, thread messages, `/netops` and card clicks to the bot."""
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else ""
    app = AsyncApp(
        client=bot.parts.slack,
        signing_secret=secret,
        request_verification_enabled=slack.mode == "http",  # Socket Mode envelopes are not signed
        process_before_response=False,
        logger=_log,
    )

    @app.event("app_mention")
    async def mention(body: dict[str, Any]) -> None:
        await bot.on_mention(body)

    @app.event("message")
    async def message(body: dict[str, Any]) -> None:
        await bot.on_message(body)

    @app.command("/netops")
    async def command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await bot.on_command(body)

    @app.action(APPROVE)
    @app.action(DENY)
    async def click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await bot.on_action(body)

    return app


class SocketMode:
    """Socket Mode: `apps.connections.open` with the app-level token, then one WebSocket for every payload.

    The Socket Mode client starts its tasks on the running loop when it is made, so it is made in `connect`."""

    def __init__(self, app: AsyncApp, slack: SlackSettings) -> None:
        if slack.app_token is None:
            raise ValueError("Socket Mode needs slack.app_token (xapp-...)")
        self._app = app
        self._token = slack.app_token.get_secret_value()
        self._handler: AsyncSocketModeHandler | None = None

    async def connect(self) -> None:
        self._handler = AsyncSocketModeHandler(self._app, self._token, ping_interval=30)
        await self._handler.connect_async()  # type: ignore[no-untyped-call]

    async def run_forever(self) -> None:
        await self.connect()
        await asyncio.Event().wait()

    async def close(self) -> None:
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
