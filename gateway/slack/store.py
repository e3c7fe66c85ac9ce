"""The bot's state in the gateway's store: channel and user mappings, idempotency claims, incidents and each
thread's conversation and timeline (tables in `gateway.db`).

`claim(key)` is one INSERT on a primary key: the first caller wins, in any number of processes, so a Slack
retry (`X-Slack-Retry-Num`), a redelivered Socket Mode envelope or a second click is dropped before any work.
Thread items hold guarded (redacted) text only.

Example:
    store = SlackStore(engine)
    store.map_channel("T1", "C1", "demo")
    store.claim("event:Ev123")   # True
    store.claim("event:Ev123")   # False: already handled
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import SLACK_CHANNELS, SLACK_CLAIMS, SLACK_INCIDENTS, SLACK_THREAD, SLACK_USERS

__all__ = ["Incident", "SlackStore", "SlackUser", "ThreadItem", "slack_via"]

_SLACK_ID = re.compile(r"^[A-Z0-9]{1,31}$")


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A mapped Slack user: the tenant and role of their gateway key (the key itself is in the keys file)."""

    team: str
    user: str
    tenant: str
    role: str
    key_id: str


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident thread opened by `/netops incident start`."""

    id: str
    team: str
    channel: str
    thread_ts: str
    tenant: str
    title: str
    started_by: str
    started_at: float


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One entry of a thread: a question, an answer, a finding, a tool run or an approval (guarded text)."""

    kind: str
    text: str
    request_id: str
    user: str
    ts: float


def valid_id(value: str) -> bool:
    """Slack team, channel and user ids: upper-case letters and digits."""
    return bool(_SLACK_ID.match(value))


class SlackStore:
    """Mappings, claims, incidents and threads; every method is one short transaction (call off the loop)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- mappings -----------------------------------------------------------------------------------------------

    def map_channel(self, team: str, channel: str, tenant: str) -> None:
        _check_ids(team, channel)
        with self._engine.begin() as conn:
            conn.execute(delete(SLACK_CHANNELS).where(_channel(team, channel)))
            conn.execute(
                insert(SLACK_CHANNELS).values(team=team, channel=channel, tenant=tenant, created_at=time.time())
            )

    def map_user(self, team: str, user: str, *, tenant: str, role: str, key_id: str) -> None:
        _check_ids(team, user)
        with self._engine.begin() as conn:
            conn.execute(delete(SLACK_USERS).where(SLACK_USERS.c.team == team, SLACK_USERS.c.user == user))
            row = {"team": team, "user": user, "tenant": tenant, "role": role, "key_id": key_id}
            conn.execute(insert(SLACK_USERS).values(**row, created_at=time.time()))

    def unmap_channel(self, team: str, channel: str) -> bool:
        with self._engine.begin() as conn:
            return bool(conn.execute(delete(SLACK_CHANNELS).where(_channel(team, channel))).rowcount)

    def unmap_user(self, team: str, user: str) -> SlackUser | None:
        found = self.user(team, user)
        with self._engine.begin() as conn:
            conn.execute(delete(SLACK_USERS).where(SLACK_USERS.c.team == team, SLACK_USERS.c.user == user))
        return found

    def channel_tenant(self, team: str, channel: str) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(SLACK_CHANNELS.c.tenant).where(_channel(team, channel))).first()
        return str(row[0]) if row else None

    def user(self, team: str, user: str) -> SlackUser | None:
        c = SLACK_USERS.c
        with self._engine.connect() as conn:
            row = conn.execute(select(SLACK_USERS).where(c.team == team, c.user == user)).mappings().first()
        return SlackUser(row["team"], row["user"], row["tenant"], row["role"], row["key_id"]) if row else None

    def user_by_key(self, key_id: str) -> SlackUser | None:
        """The Slack user a gateway key belongs to (the proposer of an action, by its key id)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(SLACK_USERS).where(SLACK_USERS.c.key_id == key_id)).mappings().first()
        return SlackUser(row["team"], row["user"], row["tenant"], row["role"], row["key_id"]) if row else None

    def mappings(self) -> dict[str, list[dict[str, object]]]:
        """Every mapping, for `netops slack map list` (key ids only, never keys)."""
        with self._engine.connect() as conn:
            channels = [dict(r) for r in conn.execute(select(SLACK_CHANNELS)).mappings()]
            users = [dict(r) for r in conn.execute(select(SLACK_USERS)).mappings()]
        return {"channels": channels, "users": users}

    # -- idempotency --------------------------------------------------------------------------------------------

    def claim(self, key: str) -> bool:
        """True for the first caller with this key, in any process; False for every later one."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(SLACK_CLAIMS).values(key=key[:200], created_at=time.time()))
        except IntegrityError:
            return False
        return True

    # -- incidents and threads ----------------------------------------------------------------------------------

    def start_incident(
        self, team: str, channel: str, thread_ts: str, *, tenant: str, title: str, user: str
    ) -> Incident:
        incident = Incident(secrets.token_hex(6), team, channel, thread_ts, tenant, title, user, time.time())
        with self._engine.begin() as conn:
            conn.execute(
                insert(SLACK_INCIDENTS).values(
                    id=incident.id,
                    team=team,
                    channel=channel,
                    thread_ts=thread_ts,
                    tenant=tenant,
                    title=title,
                    started_by=user,
                    started_at=incident.started_at,
                )
            )
        return incident

    def latest_incident(self, team: str, channel: str) -> Incident | None:
        c = SLACK_INCIDENTS.c
        query = select(SLACK_INCIDENTS).where(c.team == team, c.channel == channel).order_by(c.started_at.desc())
        with self._engine.connect() as conn:
            row = conn.execute(query.limit(1)).mappings().first()
        return Incident(**dict(row)) if row else None

    def add(self, channel: str, thread_ts: str, tenant: str, item: ThreadItem) -> None:
        values = {"kind": item.kind, "text": item.text, "request_id": item.request_id, "user": item.user}
        with self._engine.begin() as conn:
            conn.execute(
                insert(SLACK_THREAD).values(channel=channel, thread_ts=thread_ts, tenant=tenant, ts=item.ts, **values)
            )

    def thread(self, channel: str, thread_ts: str, tenant: str) -> list[ThreadItem]:
        """The thread's items, oldest first, for this tenant only."""
        c = SLACK_THREAD.c
        query = (
            select(c.kind, c.text, c.request_id, c.user, c.ts)
            .where(c.channel == channel, c.thread_ts == thread_ts, c.tenant == tenant)
            .order_by(c.seq)
        )
        with self._engine.connect() as conn:
            return [ThreadItem(r.kind, r.text, r.request_id, r.user, float(r.ts)) for r in conn.execute(query)]

    def known_thread(self, channel: str, thread_ts: str) -> bool:
        """Whether the bot answered in (or opened) this thread: follow-ups there need no mention."""
        c = SLACK_THREAD.c
        with self._engine.connect() as conn:
            row = conn.execute(select(c.seq).where(c.channel == channel, c.thread_ts == thread_ts).limit(1)).first()
        return row is not None


def slack_via(engine: Engine, key_id: str, channel: str) -> dict[str, str]:
    """The `via` of an audit record for a request that names a Slack channel (`x-netops-channel`): honoured only
    for a key mapped to a Slack user (the actor comes from that mapping, never from the request), else empty."""
    if not valid_id(channel):
        return {}
    with engine.connect() as conn:
        row = conn.execute(select(SLACK_USERS.c.team, SLACK_USERS.c.user).where(SLACK_USERS.c.key_id == key_id)).first()
    if row is None:
        return {}
    return {"client": "slack", "team": str(row[0]), "user": str(row[1]), "channel": channel}


def _channel(team: str, channel: str) -> ColumnElement[bool]:
    return (SLACK_CHANNELS.c.team == team) & (SLACK_CHANNELS.c.channel == channel)


def _check_ids(*ids: str) -> None:
    for value in ids:
        if not valid_id(value):
            raise ValueError(f"{value!r} is not a Slack id (upper-case letters and digits, e.g. T0123ABC, C0456DEF)")
