"""`POST /slack/events`: the HTTP Events API transport, behind the gateway.

Every request is verified before Bolt sees it: `X-Slack-Signature` must be `v0=` HMAC-SHA256 of
`v0:{timestamp}:{body}` under the signing secret, and `X-Slack-Request-Timestamp` within 5 minutes of now.
A missing header, a stale (replayed) timestamp or a bad signature is answered 401 and recorded as
`slack.auth_failed`. A verified request is dispatched to the bot's Bolt app, which acknowledges at once and
does the work after.

The route answers 404 until a bot is attached (`attach(app, endpoint)`, done by `netops serve` in http mode).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from gateway.audit import AuditLog
from gateway.events import ANONYMOUS
from gateway.slack.events import SlackAuthFailed

__all__ = ["REPLAY_WINDOW_S", "SlackEndpoint", "router", "verify"]

REPLAY_WINDOW_S = 300
router = APIRouter()


@dataclass
class SlackEndpoint:
    """What the route needs: the Bolt app, the signing secret and the audit log for refusals."""

    app: AsyncApp
    signing_secret: str
    audit: AuditLog


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str:
    """'' for a genuine request, else the refusal code: missing_header | stale_timestamp | bad_signature."""
    if not timestamp or not signature:
        return "missing_header"
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return "bad_signature"
    if age > REPLAY_WINDOW_S:
        return "stale_timestamp"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return "" if hmac.compare_digest(expected, signature) else "bad_signature"


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    """Slack's Events API, slash commands and interactivity, one URL for all three."""
    endpoint: SlackEndpoint | None = getattr(request.app.state, "slack", None)
    if endpoint is None:
        return JSONResponse({"error": "the Slack bot is not enabled on this gateway"}, status_code=404)
    body = await request.body()
    h = request.headers
    code = verify(
        endpoint.signing_secret, h.get("x-slack-request-timestamp"), h.get("x-slack-signature"), body, time.time()
    )
    if code:
        client = request.client.host if request.client else ""
        event = SlackAuthFailed(
            tenant=ANONYMOUS,
            request_id=uuid.uuid4().hex,
            code=code,
            client=client,
            retry_num=h.get("x-slack-retry-num", "")[:8],
        )
        await asyncio.to_thread(endpoint.audit.append, event)
        return JSONResponse({"error": code}, status_code=401)
    headers: dict[str, str | Sequence[str]] = dict(h.items())
    response = await endpoint.app.async_dispatch(AsyncBoltRequest(body=body.decode("utf-8"), headers=headers))
    out = {k: v[0] for k, v in response.headers.items() if k.lower() != "content-length" and v}
    return Response(content=response.body, status_code=response.status, headers=out)
