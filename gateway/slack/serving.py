"""Starting the bot beside the gateway (`netops serve`, `make run`) or on its own (`netops slack run`).

    not configured  -> nothing starts; `netops serve` says which settings are missing
    mode http       -> the gateway's `POST /slack/events` is attached to the bot
    mode socket     -> a Socket Mode connection in a thread of its own (its own event loop)

Example:
    note = attach(settings, app, svc)   # "Slack bot: Socket Mode (no public URL needed)"
"""

from __future__ import annotations

import asyncio
import logging
import threading

from fastapi import FastAPI

from gateway.services import Services
from gateway.settings import Settings
from gateway.slack.http import SlackEndpoint
from gateway.slack.wiring import SocketMode, bolt_app, build_bot

__all__ = ["attach", "run_socket_mode"]

_log = logging.getLogger("netops.slack")


def attach(settings: Settings, app: FastAPI, svc: Services, *, url: str | None = None) -> str:
    """Start the bot for this gateway when Slack is configured; returns a line saying what happened."""
    slack = settings.slack
    if not slack.configured:
        need = (
            "slack.bot_token and slack.app_token"
            if slack.mode == "socket"
            else "slack.bot_token and slack.signing_secret"
        )
        return f"Slack bot: not configured (set {need}; see docs/slack.md)"
    bot = build_bot(settings, engine=svc.engine, audit=svc.audit, url=url)
    bolt = bolt_app(bot, slack)
    if slack.mode == "http":
        secret = slack.signing_secret.get_secret_value() if slack.signing_secret else ""
        app.state.slack = SlackEndpoint(bolt, secret, svc.audit)
        return "Slack bot: HTTP Events API at /slack/events (signing secret verified)"
    runner = SocketMode(bolt, slack)
    threading.Thread(target=_run_thread, args=(runner,), name="slack-socket-mode", daemon=True).start()
    return "Slack bot: Socket Mode (no public URL needed)"


def _run_thread(runner: SocketMode) -> None:
    try:
        asyncio.run(runner.run_forever())
    except Exception:  # noqa: BLE001 - the bot's thread must not take the gateway down; say why and stop
        _log.exception("the Slack bot stopped")


async def run_socket_mode(runner: SocketMode) -> None:
    """`netops slack run`: Socket Mode until interrupted."""
    try:
        await runner.run_forever()
    finally:
        await runner.close()
