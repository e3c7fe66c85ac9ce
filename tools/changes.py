"""Change tools: they never change a device. Each call becomes a pending action with the exact command lines,
the state read from the device before the change, and a rollback hint (see `tools.approvals`); it runs only
after an authorised human approves it through the API.

Before anything is recorded, the target is checked on the device with an allow-listed read: an interface or a
BGP neighbor the device does not have is refused (`UnknownInterface` / `UnknownNeighbor`, both
`InvalidArguments`: 422), so no action is ever pending for `eth99` or for a router's name given as an interface.

Example:
    result = await registry.invoke("interface_shutdown", {"device": "r1", "interface": "r1-r3"}, ctx)
    result.output  # "pending action 3f2a...: on r1 run `configure terminal` / `interface r1-r3` / `shutdown`
                   #  before: interface r1-r3, admin up, oper up, mtu 1500 ... Nothing has run yet."
Left out: prefixes (no change tool takes one yet), vendor platforms (their change templates are not declared).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tools.approvals import Approvals, Plan
from tools.commands import ALLOW_LIST
from tools.devices import Devices
from tools.errors import UnknownInterface, UnknownNeighbor
from tools.frr import DeviceName, InterfaceName
from tools.registry import Risk, Tool, ToolContext

__all__ = ["change_tools"]


class InterfaceArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: DeviceName
    interface: InterfaceName


class PeerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: DeviceName
    peer: IPv4Address


class CostArgs(InterfaceArgs):
    cost: int = Field(ge=1, le=65535, description="The new OSPF cost of the interface")


def _json(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


class _ChangeTool:
    name: ClassVar[str]
    risk: ClassVar[Risk] = Risk.CHANGE
    timeout_s: ClassVar[float] = 10.0

    def __init__(self, devices: Devices, approvals: Approvals) -> None:
        self._devices = devices
        self._approvals = approvals

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        raise NotImplementedError

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        plan = await self.plan(args, ctx)
        action = await asyncio.to_thread(self._approvals.propose, ctx, plan)
        before = ", ".join(f"{k} {v}" for k, v in action.before.items())
        return (
            f"pending action {action.id} (needs {action.required} approval(s) before "
            f"{int(action.expires_at - action.created_at)} s): {plan.preview}\n"
            f"before: {before}\nrollback: {plan.rollback}\nNothing has run yet."
        )

    def _plan(self, args: BaseModel, ctx: ToolContext, template: str, rollback: str, **params: object) -> Plan:
        """Resolve the device in the tenant's inventory and render the change (refusals happen here)."""
        device = self._devices.inventory.device(ctx.tenant, str(getattr(args, "device", "")))
        values = {k: str(v) for k, v in params.items()}
        lines = ALLOW_LIST.render(device.platform, template, **values).lines
        preview = f"on {device.name} run " + " / ".join(f"`{line}`" for line in lines)
        return Plan(self.name, device.name, template, values, json.loads(args.model_dump_json()), preview, rollback)

    async def _read(self, ctx: ToolContext, device: str, template: str, **params: object) -> dict[str, Any]:
        """One allow-listed read on the device, as JSON (empty when the template is not declared or not JSON)."""
        platform = self._devices.inventory.device(ctx.tenant, device).platform
        if template not in ALLOW_LIST.templates(platform):
            return {}
        _, raw = await self._devices.run(ctx.tenant, device, template, risk=Risk.READ, timeout_s=10.0, **params)
        return _json(raw)

    async def _interface(self, args: InterfaceArgs, ctx: ToolContext) -> dict[str, Any]:
        """The interface's state read from the device now; raises `UnknownInterface` if it has no such interface."""
        info = (await self._read(ctx, args.device, "interface", interface=args.interface)).get(args.interface)
        if not isinstance(info, dict) or info.get("pseudoInterface"):
            names = sorted(n for n, i in (await self._read(ctx, args.device, "interfaces")).items()
                           if isinstance(i, dict) and not i.get("pseudoInterface"))  # fmt: skip
            known = f" (it has: {', '.join(names)})" if names else ""
            raise UnknownInterface(
                f"{args.device} has no interface {args.interface!r}{known}; nothing was proposed", tool=self.name
            )
        admin = info.get("administrativeStatus", "?")
        oper = info.get("operationalStatus") or ("down" if admin == "down" else "?")
        return {"interface": args.interface, "admin": admin, "oper": oper, "mtu": info.get("mtu", "?")}


class InterfaceShutdown(_ChangeTool):
    name: ClassVar[str] = "interface_shutdown"
    description: ClassVar[str] = "Propose shutting an interface down (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = InterfaceArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, InterfaceArgs)
        rollback = f"interface_no_shutdown device={args.device} interface={args.interface}"
        plan = self._plan(args, ctx, "interface_shutdown", rollback, interface=args.interface)
        return replace(plan, before=await self._interface(args, ctx))


class InterfaceNoShutdown(_ChangeTool):
    name: ClassVar[str] = "interface_no_shutdown"
    description: ClassVar[str] = "Propose bringing an interface back up (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = InterfaceArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, InterfaceArgs)
        rollback = f"interface_shutdown device={args.device} interface={args.interface}"
        plan = self._plan(args, ctx, "interface_no_shutdown", rollback, interface=args.interface)
        return replace(plan, before=await self._interface(args, ctx))


class ClearBgpSession(_ChangeTool):
    name: ClassVar[str] = "clear_bgp_session"
    description: ClassVar[str] = "Propose resetting one BGP session (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = PeerArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, PeerArgs)
        rollback = "none needed: the session re-establishes by itself; check with bgp_neighbor"
        plan = self._plan(args, ctx, "bgp_clear", rollback, peer=args.peer)
        return replace(plan, before=await self._neighbor(args, ctx))

    async def _neighbor(self, args: PeerArgs, ctx: ToolContext) -> dict[str, Any]:
        """The session's state read from the device now; raises `UnknownNeighbor` if it has no such neighbor."""
        peer = str(args.peer)
        info = (await self._read(ctx, args.device, "bgp_neighbor", peer=peer)).get(peer)
        if not isinstance(info, dict):
            summary = await self._read(ctx, args.device, "bgp_summary")
            peers = sorted(summary.get("ipv4Unicast", {}).get("peers", {}))
            known = f" (its neighbors: {', '.join(peers)})" if peers else ""
            raise UnknownNeighbor(
                f"{args.device} has no BGP neighbor {peer}{known}; nothing was proposed", tool=self.name
            )
        state = str(info.get("bgpState", "?")) + (" (admin shutdown)" if info.get("adminShutDown") else "")
        return {
            "peer": peer,
            "remote_as": info.get("remoteAs", "?"),
            "state": state,
            "up/down": info.get("bgpTimerUpString", "?"),
        }


class SetOspfCost(_ChangeTool):
    name: ClassVar[str] = "set_ospf_cost"
    description: ClassVar[str] = "Propose a new OSPF cost on an interface (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = CostArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, CostArgs)
        plan = self._plan(args, ctx, "ospf_cost", "", interface=args.interface, cost=args.cost)
        before = await self._interface(args, ctx)
        ospf = (await self._read(ctx, args.device, "ospf_interface", interface=args.interface)).get("interfaces", {})
        current = ospf.get(args.interface, {}).get("cost") if isinstance(ospf, dict) else None
        if current is None:
            raise UnknownInterface(
                f"{args.device} runs no OSPF on interface {args.interface!r}: there is no OSPF cost to change;"
                " nothing was proposed",
                tool=self.name,
            )
        rollback = f"set_ospf_cost device={args.device} interface={args.interface} cost={current}"
        diff = f"interface {args.interface}: - ip ospf cost {current} / + ip ospf cost {args.cost}; "
        return replace(plan, preview=diff + plan.preview, rollback=rollback, before={**before, "ospf_cost": current})


def change_tools(devices: Devices, approvals: Approvals) -> list[Tool]:
    """Every change tool; each only proposes a pending action."""
    classes: list[type[_ChangeTool]] = [InterfaceShutdown, InterfaceNoShutdown, ClearBgpSession, SetOspfCost]
    return [cls(devices, approvals) for cls in classes]  # type: ignore[misc]
