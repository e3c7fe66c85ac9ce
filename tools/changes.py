"""Change tools: they never touch a device. Each call becomes a pending action with a preview and a rollback
hint (see `tools.approvals`); it runs only after an authorised human approves it through the API.

Example:
    result = await registry.invoke("interface_shutdown", {"device": "r1", "interface": "r1-r3"}, ctx)
    result.output  # "pending action 3f2a...: on r1 run `interface r1-r3` / `shutdown` ... nothing has run yet"
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tools.approvals import Approvals, Plan
from tools.commands import ALLOW_LIST
from tools.devices import Devices
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
        action = self._approvals.propose(ctx, plan)
        return (
            f"pending action {action.id} (needs {action.required} approval(s) before "
            f"{int(action.expires_at - action.created_at)} s): {plan.preview}\n"
            f"rollback: {plan.rollback}\nNothing has run yet."
        )

    def _plan(self, args: BaseModel, ctx: ToolContext, template: str, rollback: str, **params: object) -> Plan:
        """Resolve the device in the tenant's inventory and render the change (refusals happen here)."""
        device = self._devices.inventory.device(ctx.tenant, str(getattr(args, "device", "")))
        values = {k: str(v) for k, v in params.items()}
        lines = ALLOW_LIST.render(device.platform, template, **values).lines
        preview = f"on {device.name} run " + " / ".join(f"`{line}`" for line in lines)
        return Plan(self.name, device.name, template, values, json.loads(args.model_dump_json()), preview, rollback)


class InterfaceShutdown(_ChangeTool):
    name: ClassVar[str] = "interface_shutdown"
    description: ClassVar[str] = "Propose shutting an interface down (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = InterfaceArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, InterfaceArgs)
        rollback = f"interface_no_shutdown device={args.device} interface={args.interface}"
        return self._plan(args, ctx, "interface_shutdown", rollback, interface=args.interface)


class InterfaceNoShutdown(_ChangeTool):
    name: ClassVar[str] = "interface_no_shutdown"
    description: ClassVar[str] = "Propose bringing an interface back up (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = InterfaceArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, InterfaceArgs)
        rollback = f"interface_shutdown device={args.device} interface={args.interface}"
        return self._plan(args, ctx, "interface_no_shutdown", rollback, interface=args.interface)


class ClearBgpSession(_ChangeTool):
    name: ClassVar[str] = "clear_bgp_session"
    description: ClassVar[str] = "Propose resetting one BGP session (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = PeerArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, PeerArgs)
        rollback = "none needed: the session re-establishes by itself; check with bgp_neighbor"
        return self._plan(args, ctx, "bgp_clear", rollback, peer=args.peer)


class SetOspfCost(_ChangeTool):
    name: ClassVar[str] = "set_ospf_cost"
    description: ClassVar[str] = "Propose a new OSPF cost on an interface (needs a human approval before it runs)."
    Args: ClassVar[type[BaseModel]] = CostArgs

    async def plan(self, args: BaseModel, ctx: ToolContext) -> Plan:
        assert isinstance(args, CostArgs)
        _, raw = await self._devices.run(ctx.tenant, args.device, "ospf_interface", interface=args.interface)
        current = json.loads(raw or "{}").get("interfaces", {}).get(args.interface, {}).get("cost", "unknown")
        rollback = f"set_ospf_cost device={args.device} interface={args.interface} cost={current}"
        plan = self._plan(args, ctx, "ospf_cost", rollback, interface=args.interface, cost=args.cost)
        diff = f"interface {args.interface}: - ip ospf cost {current} / + ip ospf cost {args.cost}; "
        return Plan(plan.tool, plan.device, plan.template, plan.params, plan.arguments, diff + plan.preview, rollback)


def change_tools(devices: Devices, approvals: Approvals) -> list[Tool]:
    """Every change tool; each only proposes a pending action."""
    classes: list[type[_ChangeTool]] = [InterfaceShutdown, InterfaceNoShutdown, ClearBgpSession, SetOspfCost]
    return [cls(devices, approvals) for cls in classes]  # type: ignore[misc]
