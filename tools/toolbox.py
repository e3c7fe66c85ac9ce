"""The tools, wired: inventory, device access, approvals, registry and grants (built once at start-up).

Example:
    box = Toolbox.build(engine, inventory_dir=Path("infra/inventory"), lab_dir="/run/netops-lab", lab_prefix="nl")
    ctx = box.context("demo", tenant_tools, role="user", key_id="k1", request_id="r1")
    result = await box.registry.invoke("bgp_summary", '{"device": "r1"}', ctx)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tools.approvals import Approvals
from tools.changes import change_tools
from tools.devices import Devices, LocalFrrTransport, Transport
from tools.dns import DnsLookup
from tools.frr import read_tools
from tools.grants import effective_grants
from tools.inventory import Inventory
from tools.registry import ToolContext, ToolRegistry
from tools.ssh import ScrapliTransport

__all__ = ["Toolbox"]


@dataclass(frozen=True)
class Toolbox:
    """Everything the gateway needs to run vetted tools."""

    registry: ToolRegistry
    inventory: Inventory
    devices: Devices
    approvals: Approvals

    @classmethod
    def build(
        cls,
        engine: Engine,
        *,
        inventory_dir: Path | None,
        lab_dir: str = "/run/netops-lab",
        lab_prefix: str = "nl",
        lab_ssh_port: int = 2222,
        transports: dict[str, Transport] | None = None,
    ) -> Toolbox:
        inventory = Inventory.load(
            inventory_dir, lab_dir=lab_dir, lab_prefix=lab_prefix, lab_ssh_port=str(lab_ssh_port)
        )
        devices = Devices(inventory, transports or {"vtysh": LocalFrrTransport(), "ssh": ScrapliTransport()})
        approvals = Approvals(engine, devices)
        registry = ToolRegistry(
            [DnsLookup(), *read_tools(devices), *change_tools(devices, approvals)],
            devices_of=lambda tenant: [d.name for d in inventory.for_tenant(tenant).devices],
        )
        return cls(registry, inventory, devices, approvals)

    def context(
        self, tenant: str, tenant_tools: Iterable[str], *, role: str, key_id: str = "", request_id: str = ""
    ) -> ToolContext:
        """The tool context for one caller: tenant from the API key, grants narrowed by role."""
        granted = frozenset(tenant_tools)
        grants = effective_grants(granted, role, self.inventory.for_tenant(tenant), self.registry.risks)
        return ToolContext(tenant, grants, request_id, key_id, role, granted)
