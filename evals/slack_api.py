"""A local stand-in for Slack, for the bot's tests and benchmark (Slack itself is not reachable here): the Web
API methods the bot uses, by their documented request and response shapes, and Socket Mode's WebSocket; plus
builders of Slack's documented payloads (app_mention, slash command, block_actions) and their signatures.

    api = LocalSlack()                        # an ASGI app: run it (gateway.local.ThreadedServer)
    client = AsyncWebClient(token="xoxb-test", base_url=f"{url}/api/")
    api.throttle("chat.update", times=1, retry_after=1)   # the next chat.update gets 429 + Retry-After: 1
    api.calls("chat.postMessage")             # what the bot sent, in order, with arrival times
    api.send_envelope("events_api", event_callback(...))  # to every connected Socket Mode client

Methods: auth.test, chat.postMessage, chat.update, chat.postEphemeral, views.open, apps.connections.open.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = [
    "BOT_USER",
    "Call",
    "LocalSlack",
    "block_actions",
    "event_callback",
    "sign",
    "slash_command",
]

BOT_USER = "U0NETOPSBOT"


@dataclass(frozen=True, slots=True)
class Call:
    """One Web API call the bot made: method, arguments (JSON or form), token, arrival time, our answer's status."""

    method: str
    args: dict[str, Any]
    token: str
    at: float
    status: int
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> str:
        """The ts Slack gave a posted message."""
        return str(self.answer.get("ts") or self.answer.get("message_ts") or "")

    def text(self) -> str:
        """Everything the call would show: blocks and text."""
        return json.dumps(self.args.get("blocks", [])) + str(self.args.get("text", ""))


@dataclass
class LocalSlack:
    """The fake Slack: an ASGI app (`.app`) with a call log, throttling and Socket Mode connections."""

    team: str = "T0TEST"
    _calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _throttle: dict[str, tuple[int, int]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sockets: list[WebSocket] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str = ""

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[Route("/api/{method}", self._api, methods=["POST", "GET"]), WebSocketRoute("/link", self._link)]
        )

    # -- for tests ----------------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def throttle(self, method: str, *, times: int, retry_after: int) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After: retry_after`."""
        with self._lock:
            self._throttle[method] = (times, retry_after)

    def connected(self) -> int:
        return len(self._sockets)

    def send_envelope(self, kind: str, payload: dict[str, Any], *, envelope_id: str | None = None) -> str:
        """Send a Socket Mode envelope (`events_api`, `slash_commands`, `interactive`) to every connection."""
        envelope_id = envelope_id or uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        assert self._loop is not None, "no Socket Mode connection yet"
        for ws in list(self._sockets):
            asyncio.run_coroutine_threadsafe(ws.send_text(json.dumps(envelope)), self._loop).result(5)
        return envelope_id

    # -- the Web API --------------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args = await _args(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ") or str(args.get("token", ""))
        status, body, headers = self._answer(method, args, token, str(request.base_url).rstrip("/"))
        with self._lock:
            self._calls.append(Call(method, args, token, time.monotonic(), status, body))
        return JSONResponse(body, status_code=status, headers=headers)

    def _answer(
        self, method: str, args: dict[str, Any], token: str, base: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            left, retry = self._throttle.get(method, (0, 0))
            if left > 0:
                self._throttle[method] = (left - 1, retry)
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry)}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "netops",
                "team_id": self.team,
                "user_id": BOT_USER,
                "bot_id": "B0NETOPS",
                "is_enterprise_install": False,
            },
            "chat.postMessage": {
                "ok": True,
                "channel": args.get("channel"),
                "ts": ts,
                "message": {"text": args.get("text", ""), "ts": ts, "thread_ts": args.get("thread_ts")},
            },
            "chat.update": {
                "ok": True,
                "channel": args.get("channel"),
                "ts": args.get("ts"),
                "text": args.get("text", ""),
            },
            "chat.postEphemeral": {"ok": True, "message_ts": ts},
            "views.open": {"ok": True, "view": {"id": "V" + ts.replace(".", "")}},
        }
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": base.replace("http", "ws", 1) + "/link?ticket=" + uuid.uuid4().hex}, {}
        if method not in answers:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, answers[method], {}

    # -- Socket Mode --------------------------------------------------------------------------------------------

    async def _link(self, ws: WebSocket) -> None:
        await ws.accept()
        self._loop = asyncio.get_running_loop()
        await ws.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "local", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0NETOPS"},
                }
            )
        )
        self._sockets.append(ws)
        try:
            while True:
                message = json.loads(await ws.receive_text())
                if "envelope_id" in message:
                    self.acks[message["envelope_id"]] = message
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(ws)


async def _args(request: Request) -> dict[str, Any]:
    raw = (await request.body()).decode()
    if request.headers.get("content-type", "").startswith("application/json"):
        data: dict[str, Any] = json.loads(raw or "{}")
        return data
    return {**dict(request.query_params), **dict(parse_qsl(raw))}


# -- Slack's payloads, as documented ---------------------------------------------------------------------------


def event_callback(team: str, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API `event_callback` wrapping `event` (app_mention, message)."""
    return {
        "token": "verification-token-unused",
        "team_id": team,
        "api_app_id": "A0NETOPS",
        "event": {"event_ts": event.get("ts"), **event},
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


def slash_command(team: str, channel: str, user: str, text: str) -> dict[str, str]:
    """A slash command's fields (form-encoded over HTTP; a JSON object in a Socket Mode envelope)."""
    return {
        "token": "verification-token-unused",
        "team_id": team,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "incidents",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/netops",
        "text": text,
        "api_app_id": "A0NETOPS",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0TEST/1/x",
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}",
    }


def block_actions(
    team: str, channel: str, user: str, message: dict[str, Any], action_id: str, value: str
) -> dict[str, Any]:
    """A `block_actions` payload for a button click on `message` (a card the bot posted)."""
    now = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0NETOPS",
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}",
        "channel": {"id": channel, "name": "incidents"},
        "message": message,
        "response_url": "https://hooks.slack.com/actions/T0TEST/1/x",
        "actions": [
            {"action_id": action_id, "block_id": f"action-{value}", "value": value, "type": "button", "action_ts": now}
        ],
    }


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers Slack would send with `body`."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()
