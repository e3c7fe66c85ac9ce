"""What every bot handler works with: where a Slack request came from (`Where`), who it resolves to (`Caller`),
and the bot's parts (`Parts`): Slack's Web API, the gateway client, the store, the keys file and the audit log.

`Parts.resolve` is the one gate: the channel must be mapped to a tenant, the user to a key of the same tenant;
otherwise the user gets an ephemeral refusal, a `slack.refused` record is written, and nothing else happens.

Example:
    where = Where(team="T1", channel="C1", user="U1", thread_ts="1712.0001")
    caller = await parts.resolve(where, "ask")   # None: refused (ephemerally) and audited
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from gateway.audit import AuditLog
from gateway.events import AuditEvent
from gateway.settings import SlackSettings
from gateway.slack.client import GatewayClient
from gateway.slack.errors import GatewayRefused, KeyFileError
from gateway.slack.events import SlackHandled, SlackRefused
from gateway.slack.keys import KeyFile
from gateway.slack.store import SlackStore, SlackUser

__all__ = ["Caller", "Parts", "Where"]


@dataclass(frozen=True, slots=True)
class Where:
    """A Slack request's workspace, channel, user and thread (`thread_ts` empty: the channel itself)."""

    team: str
    channel: str
    user: str
    thread_ts: str = ""


@dataclass(frozen=True, slots=True)
class Caller:
    """A resolved Slack user: their tenant and gateway key, in a channel of that tenant."""

    where: Where
    tenant: str
    user: SlackUser
    key: str = field(repr=False)


@dataclass
class Parts:
    """The bot's collaborators, built once (`wiring.build_parts`)."""

    slack: AsyncWebClient
    gateway: GatewayClient
    store: SlackStore
    keys: KeyFile
    audit: AuditLog
    settings: SlackSettings
    public_url: str

    async def resolve(self, where: Where, action: str) -> Caller | None:
        """The caller, or None after an ephemeral refusal (unmapped channel or user, or another tenant's user)."""
        tenant = await asyncio.to_thread(self.store.channel_tenant, where.team, where.channel)
        user = await asyncio.to_thread(self.store.user, where.team, where.user)
        code, text = "", ""
        if tenant is None:
            code, text = (
                "unmapped_channel",
                "This channel is not mapped to a NetOps tenant. Ask an operator to run `netops slack map channel`.",
            )
        elif user is None:
            code, text = (
                "unmapped_user",
                "You are not mapped to a NetOps identity. Ask an operator to run `netops slack map user`.",
            )
        elif user.tenant != tenant:
            code, text = "tenant_mismatch", "Your NetOps identity belongs to another tenant than this channel's."
        if code or user is None or tenant is None:
            await self.ephemeral(where, f":no_entry: {text}")
            await self.record(
                SlackRefused(
                    tenant=tenant or "-",
                    request_id=_rid(),
                    team=where.team,
                    channel=where.channel,
                    user=where.user,
                    action=action,
                    code=code,
                )
            )
            return None
        try:
            key = await asyncio.to_thread(self.keys.get, user.key_id)
        except KeyFileError as exc:
            await self.ephemeral(where, f":no_entry: {exc.detail}")
            return None
        return Caller(where, tenant, user, key)

    async def ephemeral(self, where: Where, text: str) -> None:
        """A message only `where.user` sees (in the thread when there is one)."""
        thread = where.thread_ts or None
        await self.slack.chat_postEphemeral(channel=where.channel, user=where.user, text=text, thread_ts=thread)

    async def refused(self, caller: Caller, action: str, exc: GatewayRefused, *, action_id: str = "") -> None:
        """A gateway refusal (limits, roles, guardrails, two-person rule) as an ephemeral message, audited."""
        wait = f" Try again in {exc.retry_after:.0f} s." if exc.retry_after else ""
        await self.ephemeral(caller.where, f":no_entry: The gateway refused this ({exc.code}): {exc.detail}.{wait}")
        await self.handled(caller, action, exc.code, [], action_id=action_id)

    async def handled(
        self, caller: Caller, action: str, outcome: str, requests: list[str], *, action_id: str = ""
    ) -> None:
        w = caller.where
        await self.record(
            SlackHandled(
                tenant=caller.tenant,
                request_id=requests[-1] if requests else _rid(),
                team=w.team,
                channel=w.channel,
                user=w.user,
                action=action,
                outcome=outcome,
                key_id=caller.user.key_id,
                thread_ts=w.thread_ts,
                gateway_requests=[r for r in requests if r],
                action_id=action_id,
            )
        )

    async def record(self, event: AuditEvent) -> None:
        await asyncio.to_thread(self.audit.append, event)


def _rid() -> str:
    return "slack-" + uuid.uuid4().hex[:24]
