"""Kill switches: switch a tool, route, deployment, tenant or prompt version off at runtime, on every process.

    netops kill tool clear_bgp_session --reason "flapping peers, INC-4411"
    netops kill deployment gpu-a --reason "drain for a driver update"
    netops revive deployment gpu-a
    POST /v1/kill {"kind": "route", "name": "netops-strong", "reason": "..."}   (platform operator keys)

A switch is a row of `kill_switches` (who, why, when); throwing and reviving are audited (`kill.thrown`,
`kill.revived`). Every process reads them with its configuration poll (`gateway.config_live.LiveConfig`,
at most every `config_refresh_s`, 0.5 s by default), so a switch holds everywhere within a second.

What a switch does:
    tool        the tool is refused (503 `killed`, the reason in the detail) wherever it would run: the chat's
                checks (reported as a failed check), the model's tool calls, `/v1/tools/{name}/invoke`
    route       chat requests for it are refused (503 `killed`)
    deployment  a drain: requests in flight finish; new ones go to the route's other deployments (the answer
                says so in `netops.degraded`); a route with none left answers 503 `backend_unavailable`
    tenant      every request with one of its keys is refused (503 `killed`); platform operator keys are not
    prompt      a prompt version serves nothing: a conversation on it (a canary's candidate, a pinned or promoted
                version) gets the version in force instead, out of any rollout; 503 `killed` if that one is off too;
                a shadow candidate stops answering
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.audit import AuditLog
from gateway.db import KILL_SWITCHES
from gateway.errors import GatewayError, NotFound
from gateway.events import ANONYMOUS, KillRevived, KillThrown
from tools.errors import ToolError

__all__ = ["KillSwitches", "Killed", "Kills", "Switch", "Target", "ToolKilled"]


class Target(enum.StrEnum):
    TOOL = "tool"
    ROUTE = "route"
    DEPLOYMENT = "deployment"
    TENANT = "tenant"
    PROMPT = "prompt"  # a prompt version (its content hash, `netops prompts list`)


class Killed(GatewayError):
    """A route or tenant switched off by an operator."""

    code = "killed"


class ToolKilled(ToolError):
    """A tool switched off by an operator (a `ToolError`, so every tool path reports it as it reports refusals)."""

    code = "killed"


@dataclass(frozen=True, slots=True)
class Switch:
    """One thrown switch."""

    kind: Target
    name: str
    reason: str
    author: str
    at: float

    def public(self) -> dict[str, object]:
        return {"kind": self.kind.value, "name": self.name, "reason": self.reason, "author": self.author, "at": self.at}

    def detail(self) -> str:
        return f"{self.kind.value} {self.name!r} is switched off by {self.author}: {self.reason}"


@dataclass(frozen=True)
class Kills:
    """The switches thrown, as one process last read them."""

    by_kind: dict[Target, dict[str, Switch]] = field(default_factory=dict)

    @classmethod
    def of(cls, switches: list[Switch]) -> Kills:
        by_kind: dict[Target, dict[str, Switch]] = {kind: {} for kind in Target}
        for s in switches:
            by_kind[s.kind][s.name] = s
        return cls(by_kind)

    def get(self, kind: Target, name: str) -> Switch | None:
        return self.by_kind.get(kind, {}).get(name)

    def check(self, kind: Target, name: str) -> None:
        """Raise `Killed` (or `ToolKilled` for a tool) when the switch is thrown."""
        switch = self.get(kind, name)
        if switch is None:
            return
        if kind is Target.TOOL:
            raise ToolKilled(switch.detail(), tool=name)
        raise Killed(switch.detail())

    def names(self, kind: Target) -> dict[str, str]:
        """Name -> reason, for one kind."""
        return {name: s.reason for name, s in self.by_kind.get(kind, {}).items()}

    def public(self) -> list[dict[str, object]]:
        return [s.public() for switches in self.by_kind.values() for s in switches.values()]


class KillSwitches:
    """The switches in the state store (see the module docstring)."""

    def __init__(self, engine: Engine, audit: AuditLog) -> None:
        self.engine = engine
        self._audit = audit

    def list(self) -> list[Switch]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(KILL_SWITCHES).order_by(KILL_SWITCHES.c.at)).mappings()
            return [Switch(Target(r["kind"]), r["name"], r["reason"], r["author"], float(r["at"])) for r in rows]

    def throw(self, kind: Target, name: str, *, reason: str, author: str) -> Switch:
        """Throw (or re-throw, with a new reason) a switch."""
        switch = Switch(kind, name, reason, author[:128], time.time())
        values = {"kind": kind.value, "name": name, "reason": reason, "author": switch.author, "at": switch.at}
        insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(KILL_SWITCHES)
        upsert = insert.values(**values).on_conflict_do_update(
            index_elements=["kind", "name"], set_={"reason": reason, "author": switch.author, "at": switch.at}
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)
        self._announce(KillThrown, kind, name, reason=reason, author=switch.author, at=switch.at)
        return switch

    def revive(self, kind: Target, name: str, *, author: str, reason: str = "") -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(KILL_SWITCHES).where(KILL_SWITCHES.c.kind == kind.value, KILL_SWITCHES.c.name == name)
            ).rowcount
        if gone != 1:
            raise NotFound(f"no {kind.value} {name!r} is switched off")
        self._announce(KillRevived, kind, name, reason=reason, author=author[:128], at=time.time())

    def _announce(
        self, event: type[KillThrown | KillRevived], kind: Target, name: str, *, reason: str, author: str, at: float
    ) -> None:
        """The audit record of a switch thrown or revived (a tenant's under that tenant)."""
        prefix = "kill" if event is KillThrown else "revive"
        self._audit.append(
            event(
                tenant=name if kind is Target.TENANT else ANONYMOUS,
                request_id=f"{prefix}-{int(at * 1000)}",
                target=kind.value,
                name=name,
                reason=reason,
                author=author,
            )
        )
