"""Each gateway process's view of the configuration: the versions in force, the running rollouts' candidates and
the kill switches, polled from the state store at most every `refresh_s` (one indexed query per table, off the
event loop, on the request path of `/v1` calls) and swapped in place: the router's table (`Router.use`), a tenant's
guard chains. Requests in flight finish on what they started with; a failed poll keeps what is in force.

    live = LiveConfig(versions, refresh_s=1.0)
    live.on(Kind.ROUTES, build=..., use=...)
    live.watch(kill_switches, on_kills=...)
    await live.maybe_refresh()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway.config_model import ConfigRollout, Kind
from gateway.config_versions import ConfigVersions
from gateway.errors import GatewayError
from gateway.kills import Kills, KillSwitches
from guardrails import Guards, TenantGuards

__all__ = ["LiveConfig", "guards_with"]

log = logging.getLogger("netops.config")


class LiveConfig:
    """Keeps one gateway process on the versions in force and the running rollouts' candidates (polled at most
    every `refresh_s`)."""

    def __init__(self, versions: ConfigVersions, *, refresh_s: float) -> None:
        self.versions = versions
        self.refresh_s = refresh_s
        self.applied: dict[tuple[str, str], int] = {}
        self.rollouts: dict[tuple[str, str], tuple[ConfigRollout, object]] = {}  # (kind, subject) -> candidate
        self._due = 0.0
        self._lock = asyncio.Lock()
        self._build: dict[Kind, Callable[[str, dict[str, Any]], object]] = {}
        self._use: dict[Kind, Callable[[str, Any], None]] = {}
        self.kills = Kills()  # the kill switches thrown, read with every poll (gateway.kills)
        self._switches: KillSwitches | None = None
        self._on_kills: Callable[[Kills], None] = lambda _: None

    def watch(self, switches: KillSwitches, on_kills: Callable[[Kills], None]) -> None:
        """Read the kill switches with every poll; `on_kills` hears each new reading."""
        self._switches, self._on_kills = switches, on_kills

    def on(self, kind: Kind, build: Callable[[str, dict[str, Any]], object], use: Callable[[str, Any], None]) -> None:
        """How a version of `kind` is built from its body (`build(subject, body)`, also for a rollout's candidate)
        and put in force in this process (`use(subject, built)`)."""
        self._build[kind], self._use[kind] = build, use

    async def maybe_refresh(self) -> None:
        """Poll when due (off the event loop); a failed poll keeps what is in force and tries again later."""
        if time.monotonic() < self._due or self._lock.locked():
            return
        async with self._lock:
            self._due = time.monotonic() + self.refresh_s
            try:
                await asyncio.to_thread(self.refresh)
            except SQLAlchemyError as exc:  # the store is down: keep serving what is in force
                log.warning("config poll failed (%s); keeping the versions in force", type(exc).__name__)

    def refresh(self) -> None:
        """Apply every version in force that this process does not run yet; load new rollouts' candidates."""
        for (kind, subject), version_id in sorted(self.versions.active_ids().items()):
            if self.applied.get((kind, subject)) == version_id:
                continue
            built = self._built(Kind(kind), subject, version_id)
            if built is not None:
                self._use[Kind(kind)](subject, built)
            self.applied[(kind, subject)] = version_id
        running: dict[tuple[str, str], tuple[ConfigRollout, object]] = {}
        for rollout in self.versions.rollouts():
            key = (rollout.kind.value, rollout.subject)
            known = self.rollouts.get(key)
            if known is not None and known[0].id == rollout.id:
                running[key] = known
                continue
            built = self._built(rollout.kind, rollout.subject, rollout.candidate)
            if built is not None:
                running[key] = (rollout, built)
        self.rollouts = running
        if self._switches is not None:
            self.kills = Kills.of(self._switches.list())
            self._on_kills(self.kills)

    def _built(self, kind: Kind, subject: str, version_id: int) -> object | None:
        build = self._build.get(kind)
        if build is None:
            return None
        try:
            return build(subject, self.versions.get(version_id).body)
        except GatewayError as exc:  # validated when recorded; the settings changed since (a missing key)
            log.error("config version %s (%s %s) not applied: %s", version_id, kind.value, subject, exc.detail)
            return None

    def candidate(self, kind: Kind, subject: str, tenant: str, conversation: str) -> tuple[ConfigRollout, Any, bool]:
        """For a rollout of (kind, subject): the rollout, its built candidate, and whether it serves this
        conversation; raises KeyError when none runs."""
        rollout, built = self.rollouts[(kind.value, subject)]
        return rollout, built, rollout.serves(tenant, conversation)


def guards_with(guards: Guards, subject: str, tenant: TenantGuards) -> Guards:
    """`guards` with one tenant's (or the default's) chains replaced."""
    if subject == "default":
        return Guards(default=tenant, tenants=dict(guards.tenants))
    return Guards(default=guards.default, tenants={**guards.tenants, subject: tenant})
