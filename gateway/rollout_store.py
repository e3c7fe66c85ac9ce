"""The SQL of prompt rollouts (`gateway.rollout`): SQLAlchemy Core over the `prompt_*` tables of `gateway.db`.

Every write is one statement or one short transaction, safe with several gateway processes on one database:
the active rollout of a scope is claimed by inserting its row (a second insert fails), ended by deleting it
(whoever deletes the row ended it), and counters grow by `UPDATE ... SET n = n + :d` (insert on first use).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, RowMapping, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.db import PROMPT_ACTIVE, PROMPT_COUNTERS, PROMPT_IN_FORCE, PROMPT_ROLLOUTS, PROMPT_SERVED

__all__ = [
    "COUNTER_FIELDS",
    "active_rows",
    "bump",
    "claim",
    "counter_rows",
    "ended",
    "in_force",
    "insert_served",
    "release",
    "rollout_rows",
    "served_row",
    "set_in_force",
    "set_rating",
]

COUNTER_FIELDS = ("requests", "blocks", "unsupported", "errors", "latency_ms", "thumbs_up", "thumbs_down")


def rollout_rows(conn: Connection, *, scope: str | None = None, rollout: str | None = None) -> list[RowMapping]:
    """Rollouts, newest first; of one scope, or the one with id `rollout`."""
    query = select(PROMPT_ROLLOUTS).order_by(PROMPT_ROLLOUTS.c.started_at.desc())
    if scope is not None:
        query = query.where(PROMPT_ROLLOUTS.c.scope == scope)
    if rollout is not None:
        query = query.where(PROMPT_ROLLOUTS.c.id == rollout)
    return list(conn.execute(query).mappings())


def active_rows(conn: Connection, scopes: Iterable[str]) -> list[RowMapping]:
    """The active rollouts of these scopes."""
    query = select(PROMPT_ROLLOUTS).join(PROMPT_ACTIVE, PROMPT_ACTIVE.c.rollout == PROMPT_ROLLOUTS.c.id)
    return list(conn.execute(query.where(PROMPT_ACTIVE.c.scope.in_(list(scopes)))).mappings())


def claim(engine: Engine, row: Mapping[str, object]) -> bool:
    """Record a new rollout and make it its scope's active one; False if the scope already has one."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(PROMPT_ROLLOUTS).values(**row))
            conn.execute(insert(PROMPT_ACTIVE).values(scope=row["scope"], rollout=row["id"]))
    except IntegrityError:
        return False
    return True


def release(conn: Connection, scope: str, rollout: str) -> bool:
    """End the scope's active rollout if it is still `rollout`; True for the one caller that ended it."""
    result = conn.execute(
        delete(PROMPT_ACTIVE).where(and_(PROMPT_ACTIVE.c.scope == scope, PROMPT_ACTIVE.c.rollout == rollout))
    )
    return result.rowcount == 1


def ended(conn: Connection, rollout: str, state: str, reason: str) -> float:
    """Mark a rollout ended; returns when."""
    now = time.time()
    conn.execute(
        update(PROMPT_ROLLOUTS).where(PROMPT_ROLLOUTS.c.id == rollout).values(state=state, reason=reason, ended_at=now)
    )
    return now


def in_force(conn: Connection, scopes: Iterable[str]) -> dict[str, str]:
    """Promoted versions by scope."""
    query = select(PROMPT_IN_FORCE.c.scope, PROMPT_IN_FORCE.c.version).where(PROMPT_IN_FORCE.c.scope.in_(list(scopes)))
    return {row.scope: row.version for row in conn.execute(query)}


def set_in_force(conn: Connection, scope: str, version: str, rollout: str) -> None:
    values = {"version": version, "rollout": rollout, "updated_at": time.time()}
    done = conn.execute(update(PROMPT_IN_FORCE).where(PROMPT_IN_FORCE.c.scope == scope).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(PROMPT_IN_FORCE).values(scope=scope, **values))


def bump(engine: Engine, rollout: str, tenant: str, version: str, deltas: Mapping[str, float]) -> None:
    """Add `deltas` to the (rollout, tenant, version) counters, creating the row on first use."""
    c = PROMPT_COUNTERS.c
    key = and_(c.rollout == rollout, c.tenant == tenant, c.version == version)
    values = {name: c[name] + delta for name, delta in deltas.items()}
    row = {name: 0 for name in COUNTER_FIELDS} | dict(deltas)
    for _ in range(3):
        try:
            with engine.begin() as conn:
                if conn.execute(update(PROMPT_COUNTERS).where(key).values(**values)).rowcount == 1:
                    return
                conn.execute(insert(PROMPT_COUNTERS).values(rollout=rollout, tenant=tenant, version=version, **row))
            return
        except IntegrityError:  # another process inserted it first: add to its row
            continue


def counter_rows(conn: Connection, rollout: str) -> list[RowMapping]:
    return list(conn.execute(select(PROMPT_COUNTERS).where(PROMPT_COUNTERS.c.rollout == rollout)).mappings())


def insert_served(engine: Engine, tenant: str, request_id: str, version: str, rollout: str) -> None:
    """Remember which version answered a request (a reused request id keeps its first answer)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(PROMPT_SERVED).values(
                    tenant=tenant, request_id=request_id, version=version, rollout=rollout, rating=0, ts=time.time()
                )
            )
    except IntegrityError:
        pass


def insert_served_many(engine: Engine, rows: list[dict[str, object]]) -> None:
    """`insert_served` for a batch, one transaction (a row whose request id is already there is skipped)."""
    if not rows:
        return
    try:
        with engine.begin() as conn:
            conn.execute(insert(PROMPT_SERVED), rows)
    except IntegrityError:
        for row in rows:
            insert_served(engine, str(row["tenant"]), str(row["request_id"]), str(row["version"]), str(row["rollout"]))


def served_row(conn: Connection, tenant: str, request_id: str) -> RowMapping | None:
    c = PROMPT_SERVED.c
    query = select(PROMPT_SERVED).where(and_(c.tenant == tenant, c.request_id == request_id))
    return conn.execute(query).mappings().first()


def set_rating(conn: Connection, tenant: str, request_id: str, old: int, new: int) -> bool:
    """Change a request's rating from `old` to `new`; False if another vote changed it meanwhile."""
    c = PROMPT_SERVED.c
    where = and_(c.tenant == tenant, c.request_id == request_id, c.rating == old)
    return conn.execute(update(PROMPT_SERVED).where(where).values(rating=new)).rowcount == 1
