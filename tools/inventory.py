"""Per-tenant device inventories and tool policies, from YAML (`infra/inventory/<tenant>.yaml`).

One file per tenant, validated at start-up (`extra="forbid"`): an unknown field, platform or transport fails at boot.
Values may name `{lab_dir}` and `{lab_prefix}`, filled from the settings (the lab's paths and namespace prefix).

Example file:
    tenant: demo
    approvals: {required: 1, expiry_s: 900}
    roles: {user: [bgp_summary], approver: [bgp_summary], admin: ["*"]}
    devices:
      - {name: r1, platform: frr, transport: vtysh, vty_socket: "{lab_dir}/r1/run", netns: "{lab_prefix}-r1"}

SSH devices name a key *file* and a known-hosts file; passwords are not supported (no secret in this file).
Left out: dynamic sources (NetBox, Nautobot).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import ToolError, UnknownDevice

__all__ = ["ApprovalPolicy", "Device", "Inventory", "TenantInventory"]

DeviceName = str


class Device(BaseModel):
    """One device: how to reach it and which allow-list applies (its platform)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    platform: Literal["frr", "cisco_iosxe", "arista_eos", "juniper_junos"]
    transport: Literal["vtysh", "ssh"]
    vty_socket: str | None = None  # vtysh: the daemons' VTY socket directory
    netns: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # where ping/traceroute run from
    host: str | None = None  # ssh
    port: int = Field(22, ge=1, le=65535)
    username: str | None = None
    ssh_key: str | None = None  # a key file path (the key itself never appears in the inventory)
    known_hosts: str | None = None  # strict host-key checking against this file when set


class ApprovalPolicy(BaseModel):
    """How change actions are approved: how many distinct approvers, and how long a proposal stays valid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required: int = Field(1, ge=1, le=5)
    expiry_s: float = Field(900.0, gt=0)


class DiagnosisPolicy(BaseModel):
    """Evidence-first diagnosis on assistant routes: read-only checks planned from the question, the runbook
    and the inventory, run by the gateway before the model answers (see `tools.diagnosis`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    topology: Literal["inventory", "lab"] = "inventory"  # lab: addresses, links and sessions of `netops lab`
    max_checks: int = Field(6, ge=1, le=20)
    max_seconds: float = Field(12.0, gt=0, le=60)  # no new check starts after this


class TenantInventory(BaseModel):
    """One tenant's devices, role grants and approval policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    devices: list[Device] = Field(default_factory=list)
    approvals: ApprovalPolicy = ApprovalPolicy()
    roles: dict[str, list[str]] = Field(default_factory=dict)  # role -> tool names ("*" = every tool)
    diagnosis: DiagnosisPolicy = DiagnosisPolicy()

    def device(self, name: str) -> Device:
        for device in self.devices:
            if device.name == name:
                return device
        raise UnknownDevice(f"device {name!r} is not in tenant {self.tenant!r}'s inventory")


class Inventory:
    """Every tenant's inventory; a tenant without a file has no devices and no role grants (deny by default)."""

    def __init__(self, tenants: Mapping[str, TenantInventory]) -> None:
        self._tenants = dict(tenants)

    @classmethod
    def load(cls, directory: Path | None, **values: str) -> Inventory:
        """Read `<directory>/*.yaml`; `values` fill `{placeholders}` in string fields."""
        tenants: dict[str, TenantInventory] = {}
        if directory is None or not directory.is_dir():
            return cls(tenants)
        for path in sorted(directory.glob("*.yaml")):
            text = path.read_text()
            for key, value in values.items():
                text = text.replace("{" + key + "}", value)
            try:
                inv = TenantInventory.model_validate(yaml.safe_load(text))
            except (ValidationError, yaml.YAMLError) as exc:
                raise ToolError(f"invalid inventory {path}: {exc}") from None
            tenants[inv.tenant] = inv
        return cls(tenants)

    def for_tenant(self, tenant: str) -> TenantInventory:
        return self._tenants.get(tenant) or TenantInventory(tenant=tenant)

    def device(self, tenant: str, name: str) -> Device:
        """The tenant's device by name; raises `UnknownDevice` (before anything runs) if it is not theirs."""
        return self.for_tenant(tenant).device(name)
