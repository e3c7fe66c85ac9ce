"""Caches: tenant-scoped, guard-aware, each bounded in size and age, with hit/miss metrics and hits audited.

    answers    exact match on (tenant, route, prompt version, policy, index version, guarded prompt digest,
               sampling parameters, grants and clearance); deterministic requests only (temperature 0 or a seed),
               answers that ran no change tool; the output guard runs again on a hit (`gateway.pipeline`)
    tools      read-only tool outputs for a few seconds per tool, reported as such ("from 4 s ago")
               (`gateway.steps.invoke_audited`)
    retrieval  search results keyed by the live index version: a promote or rollback changes the version, so
               nothing of the old one is served again (`gateway.steps.retrieve`)

Every key starts with the tenant, so nothing cached crosses tenants. A client's `Cache-Control: no-cache` (or
`no-store`) and a tenant listed in `cache.bypass_tenants` skip the lookups (and the answer is not stored).
Each gateway process keeps its own caches (a worker's hit rate is its own); entries hold guarded text only,
never a secret's value (placeholders are what the model saw).

Example:
    caches = Caches.build(settings.cache, metrics)
    hit = caches.answers.get(key)      # None, or CacheHit(value, age_s)
    caches.answers.put(key, answer)
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gateway.metrics import Metrics
from gateway.settings import CacheSettings

__all__ = ["CacheHit", "CachedAnswer", "Caches", "TTLCache", "cache_key", "entities", "wants_fresh"]

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheHit(Generic[V]):
    """A cached value and how old it is."""

    value: V
    age_s: float


class TTLCache(Generic[V]):
    """A least-recently-used map whose entries expire `ttl_s` after they were stored (per entry if given)."""

    def __init__(
        self,
        name: str,
        metrics: Metrics,
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, float, V]] = OrderedDict()  # key -> (stored, expires, value)
        self._lookups = metrics.cache_lookups
        self._size = metrics.cache_entries.labels(name)
        self._stores = metrics.cache_stores.labels(name)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> CacheHit[V] | None:
        entry = self._items.get(key)
        now = self._clock()
        if entry is None or entry[1] <= now:
            if entry is not None:
                del self._items[key]
                self._size.set(len(self._items))
            self._lookups.labels(self.name, "miss").inc()
            return None
        self._items.move_to_end(key)
        self._lookups.labels(self.name, "hit").inc()
        return CacheHit(entry[2], now - entry[0])

    def put(self, key: str, value: V, *, ttl_s: float | None = None) -> None:
        ttl = self.ttl_s if ttl_s is None else ttl_s
        if ttl <= 0 or self.max_entries <= 0:
            return
        now = self._clock()
        self._items[key] = (now, now + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)
        self._size.set(len(self._items))
        self._stores.inc()

    def bypassed(self) -> None:
        """Count a lookup skipped on the client's or the tenant's request."""
        self._lookups.labels(self.name, "bypass").inc()

    def forget(self, tenant: str) -> None:
        """Drop the tenant's entries (every key starts with the tenant, see `cache_key`)."""
        prefix = f"{tenant}\x1f"
        for key in [k for k in self._items if k.startswith(prefix)]:
            del self._items[key]
        self._size.set(len(self._items))

    def clear(self) -> None:
        self._items.clear()
        self._size.set(0)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A guarded answer and the `netops` report it was sent with, as the response cache keeps it."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    deployment: str
    cost_usd: float  # what the original answer cost: what each hit saves
    request_id: str  # the request that computed it (the audit record of a hit points to it)
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Caches:
    """The gateway's caches (see the module docstring)."""

    settings: CacheSettings
    answers: TTLCache[CachedAnswer]
    tools: TTLCache[tuple[str, float]]  # (output, duration_ms)
    retrieval: TTLCache[list[Any]]  # retrieval.Hit list
    metrics: Metrics  # lookups, stores and savings are counted here

    @classmethod
    def build(cls, settings: CacheSettings, metrics: Metrics) -> Caches:
        return cls(
            settings,
            TTLCache("response", metrics, ttl_s=settings.response_ttl_s, max_entries=settings.response_entries),
            TTLCache("tool", metrics, ttl_s=settings.tool_ttl_s, max_entries=settings.tool_entries),
            TTLCache("retrieval", metrics, ttl_s=settings.retrieval_ttl_s, max_entries=settings.retrieval_entries),
            metrics,
        )

    def semantic_lookup(self, *, hit: bool) -> None:
        self.metrics.cache_lookups.labels("semantic", "hit" if hit else "miss").inc()

    def saved(self, tenant: str, usd: float) -> None:
        """Count what a response cache hit saved."""
        self.metrics.cache_saved.labels(tenant).inc(usd)

    def semantic_stored(self) -> None:
        self.metrics.cache_stores.labels("semantic").inc()

    def enabled_for(self, tenant: str) -> bool:
        return self.settings.enabled and tenant not in self.settings.bypass_tenants

    def changed(self, tenant: str) -> None:
        """A change ran on the tenant's devices: its cached answers and tool outputs describe the network before it.
        (Other gateway processes keep theirs until they expire: the TTLs bound that.)"""
        self.answers.forget(tenant)
        self.tools.forget(tenant)

    def tool_ttl(self, tool: str) -> float:
        return self.settings.tool_ttl_overrides.get(tool, self.settings.tool_ttl_s)


def cache_key(tenant: str, kind: str, parts: Mapping[str, object]) -> str:
    """A digest of everything that decides the cached value; the tenant and kind lead, in clear, so a key can
    never be shared by two tenants even in principle."""
    body = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return f"{tenant}\x1f{kind}\x1f{hashlib.sha256(body.encode()).hexdigest()}"


def wants_fresh(cache_control: str | None) -> bool:
    """Whether a client's `Cache-Control` header asks the gateway not to answer from a cache."""
    if not cache_control:
        return False
    directives = {d.strip().lower().replace(" ", "") for d in cache_control.split(",")}
    return bool(directives & {"no-cache", "no-store", "max-age=0"})


_TOKEN = re.compile(r"[\w][\w./:@-]*[\w]|[\w]")


# protocols and planes, whatever their case: "bgp down on r1" is not "ospf down on r1"
_PROTOCOLS = frozenset(
    [
        "bgp",
        "ospf",
        "ospfv3",
        "isis",
        "is-is",
        "eigrp",
        "rip",
        "mpls",
        "ldp",
        "rsvp",
        "sr",
        "segment",
        "vrrp",
        "hsrp",
        "glbp",
        "lacp",
        "stp",
        "rstp",
        "mstp",
        "vlan",
        "vxlan",
        "evpn",
        "vrf",
        "dns",
        "dhcp",
        "ntp",
        "ptp",
        "snmp",
        "ssh",
        "telnet",
        "tcp",
        "udp",
        "icmp",
        "ipsec",
        "ike",
        "gre",
        "nat",
        "acl",
        "qos",
        "mtu",
        "cpu",
        "memory",
        "arp",
        "ndp",
        "ipv4",
        "ipv6",
        "pim",
        "igmp",
        "bfd",
        "lldp",
        "cdp",
        "radius",
        "tacacs",
        "syslog",
        "netflow",
        "sflow",
        "ipfix",
        "tls",
        "http",
        "https",
        "ecmp",
        "multicast",
        "unicast",
    ]
)


def entities(text: str, names: Iterable[str] = ()) -> tuple[str, ...]:
    """What must be equal for two questions to share an answer: devices, interfaces, peers, prefixes, hostnames,
    protocols, numbers. Deliberately wide (any token with a digit or an inner `.`, `/`, `:`, `@`, `-`, `_`; the
    tenant's device names; acronyms; a capitalised word inside a sentence): an entity too many costs a miss, one
    too few a wrong answer. Lower-case proper names the inventory does not list ("paris") are not caught: the
    similarity threshold has to tell those apart."""
    known = {n.lower() for n in names}
    found: dict[str, None] = {}  # in order of appearance: "from r1 to r2" is not "from r2 to r1"
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        low = token.lower()
        if (
            low in known
            or low in _PROTOCOLS
            or any(c.isdigit() for c in token)
            or any(c in "./:@-_" for c in token)
            or (len(token) > 1 and token.isupper())  # BGP is not OSPF
            or (len(token) > 1 and token[0].isupper() and not _starts_sentence(text, match.start()))
        ):
            found.setdefault(low)
    return tuple(found)


def _starts_sentence(text: str, at: int) -> bool:
    i = at - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in ".!?\n"
