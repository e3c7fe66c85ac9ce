"""The state store: SQLite by default, PostgreSQL when `database_url` names one. SQLAlchemy Core only.

Each engine carries a `StoreHealth` (`health_of(engine)`), kept by the engine's own events: every statement that
runs marks the store reachable, every lost or refused connection marks it down. What serves from a snapshot while
the store is down (keys, the audit spool, the config in force) reads it to say how stale it is.

Example:
    engine = open_engine("sqlite:///var/netops.db")
    health_of(engine).down_for()  # 0.0 while the store answers
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

__all__ = [
    "API_KEYS",
    "AUDIT",
    "AUDIT_CHECKPOINTS",
    "CONFIG_ACTIVE",
    "CONFIG_COUNTERS",
    "CONFIG_ROLLOUTS",
    "CONFIG_VERSIONS",
    "KILL_SWITCHES",
    "METADATA",
    "PROMPT_ACTIVE",
    "PROMPT_COUNTERS",
    "PROMPT_IN_FORCE",
    "PROMPT_ROLLOUTS",
    "PROMPT_SERVED",
    "PROMPT_VERSIONS",
    "SLACK_CHANNELS",
    "SLACK_CLAIMS",
    "SLACK_INCIDENTS",
    "SLACK_THREAD",
    "SLACK_USERS",
    "TENANTS",
    "TENANT_LIMITS",
    "StoreHealth",
    "health_of",
    "open_engine",
    "store_unreachable",
]

METADATA = MetaData()

TENANTS = Table(
    "tenants",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("models", Text, nullable=False),  # JSON list of route names; ["*"] means all
    Column("tools", Text, nullable=False),  # JSON list of granted tool names
    Column("rpm", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

TENANT_LIMITS = Table(
    "tenant_limits",  # optional row per tenant: tokens/min and budgets per period (routing.limits.Quota)
    METADATA,
    Column("tenant", String(64), primary_key=True),
    Column("tpm", Integer, nullable=True),
    Column("token_budget", Integer, nullable=True),
    Column("spend_budget_usd", Float, nullable=True),
    Column("budget_period", String(8), nullable=False, default="day"),
)

API_KEYS = Table(
    "api_keys",
    METADATA,
    Column("key_id", String(16), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("label", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

AUDIT = Table(
    "audit_log",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    Column("tenant", String(64), nullable=False, index=True),
    Column("request_id", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

AUDIT_CHECKPOINTS = Table(
    "audit_checkpoints",  # signed chain heads (gateway.checkpoints); the key that signs them never lives here
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("head", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("mac", String(64), nullable=False),
)

# -- prompt rollouts (gateway.rollout): canary and shadow runs of a candidate prompt version ---------------------
PROMPT_VERSIONS = Table(
    "prompt_versions",  # every prompt set kept (content-addressed: a version's templates never change)
    METADATA,
    Column("version", String(16), primary_key=True),
    Column("templates", Text, nullable=False),  # JSON: name -> template text
    Column("kept_at", Float, nullable=False),
)

PROMPT_ROLLOUTS = Table(
    "prompt_rollouts",  # every rollout, active or ended; scope is a tenant or "*" (all tenants)
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("scope", String(64), nullable=False, index=True),
    Column("baseline", String(16), nullable=False),
    Column("candidate", String(16), nullable=False),
    Column("mode", String(8), nullable=False),  # canary | shadow
    Column("share", Float, nullable=False),
    Column("margin", Float, nullable=False),
    Column("min_requests", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active | promoted | rolled_back
    Column("reason", Text, nullable=False, default=""),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
)

PROMPT_ACTIVE = Table(
    "prompt_active",  # at most one active rollout per scope: the insert is the claim, the delete ends it
    METADATA,
    Column("scope", String(64), primary_key=True),
    Column("rollout", String(32), nullable=False),
)

PROMPT_IN_FORCE = Table(
    "prompt_in_force",  # a promoted version, per tenant or "*": survives restarts; settings pins still win
    METADATA,
    Column("scope", String(64), primary_key=True),
    Column("version", String(16), nullable=False),
    Column("rollout", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)

PROMPT_COUNTERS = Table(
    "prompt_counters",  # per (rollout, tenant, version); rollout "" is traffic outside any rollout
    METADATA,
    Column("rollout", String(32), primary_key=True),
    Column("tenant", String(64), primary_key=True),
    Column("version", String(16), primary_key=True),
    Column("requests", Integer, nullable=False, default=0),
    Column("blocks", Integer, nullable=False, default=0),
    Column("unsupported", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("latency_ms", Float, nullable=False, default=0.0),  # sum over `requests`
    Column("thumbs_up", Integer, nullable=False, default=0),
    Column("thumbs_down", Integer, nullable=False, default=0),
)

PROMPT_SERVED = Table(
    "prompt_served",  # which version answered a chat request: what user feedback is booked against
    METADATA,
    Column("tenant", String(64), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("version", String(16), nullable=False),
    Column("rollout", String(32), nullable=False),
    Column("rating", Integer, nullable=False, default=0),  # 1 up, -1 down, 0 none
    Column("ts", Float, nullable=False),
)

# -- versioned configuration (gateway.config_versions): routes and deployments, guardrail policies ------------
CONFIG_VERSIONS = Table(
    "config_versions",  # append-only: every change, rollback included, is a new row
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # routes | policy
    Column("subject", String(64), nullable=False),  # "" for routes; a tenant or "default" for a policy
    Column("digest", String(64), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON, never a secret (deployments' API keys stay in settings)
    Column("author", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("parent", Integer, nullable=True),
)

CONFIG_ACTIVE = Table(
    "config_active",  # the version in force per (kind, subject); every gateway process polls it
    METADATA,
    Column("kind", String(16), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

CONFIG_ROLLOUTS = Table(
    "config_rollouts",  # a candidate version serving a share of the traffic (or some tenants) beside the one in force
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("baseline", Integer, nullable=False),
    Column("candidate", Integer, nullable=False),
    Column("share", Float, nullable=False),
    Column("tenants", Text, nullable=False),  # JSON list; [] = every tenant
    Column("margin", Float, nullable=False),
    Column("min_requests", Integer, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # active | promoted | rolled_back
    Column("reason", Text, nullable=False, default=""),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
)

CONFIG_COUNTERS = Table(
    "config_counters",  # per rollout and arm (baseline | candidate): what the automatic rollback judges
    METADATA,
    Column("rollout", String(32), primary_key=True),
    Column("arm", String(16), primary_key=True),
    Column("requests", Integer, nullable=False, default=0),
    Column("blocks", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
)

KILL_SWITCHES = Table(
    "kill_switches",  # thrown switches (gateway.kills); reviving deletes the row, the audit log keeps the history
    METADATA,
    Column("kind", String(16), primary_key=True),  # tool | route | deployment | tenant
    Column("name", String(128), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("author", String(128), nullable=False),
    Column("at", Float, nullable=False),
)

# -- the Slack bot (gateway.slack.store) ----------------------------------------------------------------------
SLACK_CHANNELS = Table(
    "slack_channels",  # a Slack workspace's channel -> the tenant whose data it may see
    METADATA,
    Column("team", String(32), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

SLACK_USERS = Table(
    "slack_users",  # a Slack user -> a gateway key of one tenant and role (the key itself lives in a 0600 file)
    METADATA,
    Column("team", String(32), primary_key=True),
    Column("user", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("key_id", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

SLACK_CLAIMS = Table(
    "slack_claims",  # idempotency: one row per Slack event id / click / card update; the insert is the claim
    METADATA,
    Column("key", String(200), primary_key=True),
    Column("created_at", Float, nullable=False),
)

SLACK_INCIDENTS = Table(
    "slack_incidents",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("team", String(32), nullable=False),
    Column("channel", String(32), nullable=False, index=True),
    Column("thread_ts", String(32), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("title", Text, nullable=False),  # redacted by the tenant's input guardrails
    Column("started_by", String(32), nullable=False),
    Column("started_at", Float, nullable=False),
)

SLACK_THREAD = Table(
    "slack_thread_items",  # a thread's conversation and timeline: guarded text only, never raw Slack input
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # question | answer | finding | tool | approval
    Column("text", Text, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("user", String(32), nullable=False),
    Column("ts", Float, nullable=False),
    Index("ix_slack_thread", "channel", "thread_ts"),
)


@dataclass(slots=True)
class StoreHealth:
    """Whether the store answered last, and since when it has not (monotonic seconds)."""

    down_since: float | None = None

    def up(self) -> None:
        self.down_since = None

    def down(self) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()

    def down_for(self) -> float:
        """Seconds since the store last failed to answer after answering (0.0 while it answers)."""
        return 0.0 if self.down_since is None else time.monotonic() - self.down_since


_HEALTH: weakref.WeakKeyDictionary[Engine, StoreHealth] = weakref.WeakKeyDictionary()


def health_of(engine: Engine) -> StoreHealth:
    """The engine's store health (a fresh, healthy one for an engine not opened by `open_engine`)."""
    return _HEALTH.setdefault(engine, StoreHealth())


def store_unreachable(exc: BaseException) -> bool:
    """A database error that means the store cannot be reached (down, restarting, connection lost), not a bad query."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def open_engine(url: str) -> Engine:
    """Create the engine and the tables (idempotent)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # connect_timeout: an unreachable host fails in 2 s, so a request can fall back to the snapshot quickly
    connect_args = {"connect_timeout": 2} if url.startswith("postgresql") else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    health = health_of(engine)
    event.listen(engine, "after_cursor_execute", lambda *_: health.up())

    def on_error(context: ExceptionContext) -> None:
        if context.is_disconnect or store_unreachable(context.original_exception):
            health.down()

    event.listen(engine, "handle_error", on_error)
    _create_tables(engine)
    return engine


def _create_tables(engine: Engine) -> None:
    """`create_all`, tolerating replicas that start together on a fresh PostgreSQL: a second process racing
    the first one's CREATE TABLE fails on the catalog's unique index; once the winner is done, retry."""
    for attempt in range(5):
        try:
            METADATA.create_all(engine)
            return
        except (IntegrityError, ProgrammingError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
