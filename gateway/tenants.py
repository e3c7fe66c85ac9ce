"""Tenants and API keys. Keys are shown once and stored only as SHA-256 digests.

A key reads `nk-<key_id>-<secret>`; the key id finds the row, the digest of the whole key is compared
in constant time. Every request is resolved to a `Principal` before anything else runs.

Roles: `user`, `approver` and `admin` act within their own tenant (an admin is the tenant's admin);
`operator` is the platform operator, for platform-wide endpoints (`/v1/routing/status`, `/metrics`), and
belongs only to the reserved tenant `platform`, which has no models or tools. Reserved names (`global`,
the tenant shared runbooks are filed under, and `platform`) can't be created as tenants.

Resolved keys are cached per process for `cache_ttl_s` (default 0.5 s): a hit costs a SHA-256 and a dict lookup,
no query. Revoking a key or changing a tenant's quota through this `Tenants` drops the cached entries at once;
another process (a CLI command, another worker) is seen within `cache_ttl_s`. `peek` answers from the cache
alone, without I/O, so the event loop can skip the thread hop on a hit.

While the state store is unreachable, a key this process resolved in the last `snapshot_max_age_s` (default 15 min)
is served as it was then (its tenant's models, tools, limits; revoked stays revoked); a key it has not seen, or saw
longer ago, gets a 503 `store_unavailable`: it cannot be decided safely. No key changes while the store is down.

Example:
    tenants = Tenants(engine)
    tenants.create("acme", models=["netops-assistant"], tools=["dns_lookup"], rpm=60)
    key = tenants.create_key("acme", label="noc-laptop")      # the plaintext, once
    principal = tenants.authenticate(key.plaintext)
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.db import API_KEYS, TENANT_LIMITS, TENANTS, store_unreachable
from gateway.errors import Conflict, InvalidRequest, NotFound, StoreUnavailable, Unauthenticated
from routing.limits import Quota

__all__ = ["PLATFORM_TENANT", "RESERVED_TENANTS", "IssuedKey", "Principal", "Role", "Tenants"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY = re.compile(r"^nk-([0-9a-f]{12})-([A-Za-z0-9_-]{20,64})$")
PLATFORM_TENANT = "platform"
RESERVED_TENANTS = frozenset({"global", PLATFORM_TENANT})


class Role(enum.StrEnum):
    """What a key may do: tenant roles in rising order of trust, and the platform operator."""

    USER = "user"
    APPROVER = "approver"
    ADMIN = "admin"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: tenant, key and what the tenant may use."""

    tenant: str
    key_id: str
    role: Role
    models: frozenset[str]
    tools: frozenset[str]
    rpm: int
    quota: Quota = field(default_factory=Quota)

    def may_use(self, model: str) -> bool:
        return "*" in self.models or model in self.models

    @property
    def clearance(self) -> str:
        """The highest runbook sensitivity this key may retrieve, in chat and search alike: user internal,
        approver confidential, admin restricted (everything)."""
        return {Role.ADMIN: "restricted", Role.APPROVER: "confidential"}.get(self.role, "internal")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key; `plaintext` is never stored."""

    key_id: str
    tenant: str
    plaintext: str


@dataclass(frozen=True, slots=True)
class _Cached:
    """A key as the database said it was: the digest to compare, and its principal (None: revoked)."""

    expires: float
    loaded: float
    secret_hash: str
    principal: Principal | None


class Tenants:
    """Creates tenants and keys, and resolves presented keys to principals."""

    def __init__(
        self, engine: Engine, *, cache_ttl_s: float = 0.5, cache_size: int = 10_000, snapshot_max_age_s: float = 900.0
    ) -> None:
        self._engine = engine
        self._ttl = cache_ttl_s
        self._snapshot_max_age = snapshot_max_age_s
        self._cache_size = cache_size
        self._cache: dict[str, _Cached] = {}
        self._generation = 0  # bumped by every invalidation: a lookup that raced one is not cached

    def create(self, name: str, *, models: list[str], tools: list[str], rpm: int) -> None:
        if not _NAME.match(name):
            raise InvalidRequest(f"tenant name {name!r} must match {_NAME.pattern}")
        if name in RESERVED_TENANTS:
            raise InvalidRequest(f"tenant name {name!r} is reserved ({', '.join(sorted(RESERVED_TENANTS))})")
        self._insert(name, models=models, tools=tools, rpm=rpm)

    def _insert(self, name: str, *, models: list[str], tools: list[str], rpm: int) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(TENANTS).values(
                        name=name,
                        models=json.dumps(sorted(models)),
                        tools=json.dumps(sorted(tools)),
                        rpm=rpm,
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            raise Conflict(f"tenant {name!r} already exists") from None

    def exists(self, name: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(TENANTS.c.name).where(TENANTS.c.name == name)).first() is not None

    def list(self) -> list[dict[str, object]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(TENANTS).order_by(TENANTS.c.name)).mappings().all()
        return [{**row, "models": json.loads(row["models"]), "tools": json.loads(row["tools"])} for row in rows]

    def list_keys(self, tenant: str | None = None) -> builtins.list[dict[str, object]]:
        """Key ids, tenants, labels, roles and states; never secrets (only their digests are stored)."""
        c = API_KEYS.c
        query = select(c.key_id, c.tenant, c.label, c.role, c.created_at, c.revoked).order_by(c.tenant, c.created_at)
        if tenant is not None:
            query = query.where(c.tenant == tenant)
        with self._engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def create_key(self, tenant: str, *, label: str = "", role: str = Role.USER) -> IssuedKey:
        """A new key; an `operator` key belongs to the reserved tenant `platform` (created on first use)."""
        role = Role(role)
        if (role is Role.OPERATOR) != (tenant == PLATFORM_TENANT):
            raise InvalidRequest(f"role 'operator' belongs to tenant {PLATFORM_TENANT!r}, and only it")
        if role is Role.OPERATOR and not self.exists(PLATFORM_TENANT):
            self._insert(PLATFORM_TENANT, models=[], tools=[], rpm=600)
        if not self.exists(tenant):
            raise NotFound(f"tenant {tenant!r} does not exist")
        key_id = secrets.token_hex(6)
        plaintext = f"nk-{key_id}-{secrets.token_urlsafe(24)}"
        with self._engine.begin() as conn:
            conn.execute(
                insert(API_KEYS).values(
                    key_id=key_id,
                    tenant=tenant,
                    secret_hash=_digest(plaintext),
                    label=label,
                    role=role,
                    created_at=time.time(),
                    revoked=False,
                )
            )
        return IssuedKey(key_id, tenant, plaintext)

    def revoke_key(self, key_id: str) -> None:
        with self._engine.begin() as conn:
            result = conn.execute(update(API_KEYS).where(API_KEYS.c.key_id == key_id).values(revoked=True))
        self._invalidate(key_id)
        if result.rowcount == 0:
            raise NotFound(f"key {key_id!r} does not exist")

    def set_quota(self, tenant: str, quota: Quota) -> None:
        """Set a tenant's tokens/min and budgets (replacing earlier ones)."""
        if not self.exists(tenant):
            raise NotFound(f"tenant {tenant!r} does not exist")
        with self._engine.begin() as conn:
            conn.execute(delete(TENANT_LIMITS).where(TENANT_LIMITS.c.tenant == tenant))
            conn.execute(
                insert(TENANT_LIMITS).values(
                    tenant=tenant,
                    tpm=quota.tpm,
                    token_budget=quota.token_budget,
                    spend_budget_usd=quota.spend_budget_usd,
                    budget_period=quota.period,
                )
            )
        self._invalidate(None)

    def _invalidate(self, key_id: str | None) -> None:
        self._generation += 1
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    def quota(self, tenant: str) -> Quota:
        with self._engine.connect() as conn:
            row = conn.execute(select(TENANT_LIMITS).where(TENANT_LIMITS.c.tenant == tenant)).mappings().first()
        return _quota(row)

    def authenticate(self, presented: str | None) -> Principal:
        """Resolve a presented key; raises `Unauthenticated` with `missing_key`, `unknown_key` or `revoked_key`."""
        found = self.peek(presented)
        if found is not None:
            return found
        key_id, generation = _key_id(presented), self._generation
        try:
            cached = self._load(key_id)
        except SQLAlchemyError as exc:
            if not store_unreachable(exc):
                raise
            return self._from_snapshot(key_id, presented or "")
        if cached is None:
            raise Unauthenticated("unknown API key")
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        if generation == self._generation:
            self._cache[key_id] = cached
        return _check(cached, presented or "")

    def peek(self, presented: str | None) -> Principal | None:
        """`authenticate` from the cache alone (no I/O): the principal, a raised `Unauthenticated`, or None when
        the database must be asked."""
        key_id = _key_id(presented)
        cached = self._cache.get(key_id)
        if cached is None or cached.expires < time.monotonic():
            return None
        return _check(cached, presented or "")

    def _from_snapshot(self, key_id: str, presented: str) -> Principal:
        """The store is down: the key as this process last resolved it, if recently enough."""
        last = self._cache.get(key_id)
        if last is None or time.monotonic() - last.loaded > self._snapshot_max_age:
            raise StoreUnavailable("this key cannot be checked while the state store is unreachable; retry shortly")
        return _check(last, presented)

    def _load(self, key_id: str) -> _Cached | None:
        with self._engine.connect() as conn:
            row = (
                conn.execute(
                    select(API_KEYS, TENANTS.c.models, TENANTS.c.tools, TENANTS.c.rpm)
                    .join(TENANTS, TENANTS.c.name == API_KEYS.c.tenant)
                    .where(API_KEYS.c.key_id == key_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            limits = conn.execute(select(TENANT_LIMITS).where(TENANT_LIMITS.c.tenant == row["tenant"]))
            quota = _quota(limits.mappings().first())
        who = Principal(
            row["tenant"],
            row["key_id"],
            Role(row["role"]),
            frozenset(json.loads(row["models"])),
            frozenset(json.loads(row["tools"])),
            int(row["rpm"]),
            quota,
        )
        now = time.monotonic()
        return _Cached(now + self._ttl, now, row["secret_hash"], None if row["revoked"] else who)


def _key_id(presented: str | None) -> str:
    if not presented:
        raise Unauthenticated("no API key: send `Authorization: Bearer <key>`", code="missing_key")
    match = _KEY.match(presented)
    if not match:
        raise Unauthenticated("unknown API key")
    return match.group(1)


def _check(cached: _Cached, presented: str) -> Principal:
    if not hmac.compare_digest(cached.secret_hash, _digest(presented)):
        raise Unauthenticated("unknown API key")
    if cached.principal is None:
        raise Unauthenticated("this API key has been revoked", code="revoked_key")
    return cached.principal


def _quota(row: object) -> Quota:
    if row is None:
        return Quota()
    r = dict(row)  # type: ignore[call-overload]
    return Quota(r["tpm"], r["token_budget"], r["spend_budget_usd"], r["budget_period"])


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
