"""The caller's devices at a glance, for the chat UI's status strip.

    GET /v1/inventory -> {"object": "list", "data": [{"name", "platform", "transport", "live"}]}

The tenant comes from the API key: a key sees its own tenant's inventory and nothing else. Only names,
platforms and transports are returned; addresses, sockets, user names and key paths never leave.

`live` is a cheap liveness flag read without running anything on the device:
- a vtysh device with a VTY socket directory: whether its `zebra.pid` names a running process;
- a device reached only through its network namespace (a lab host): whether the namespace exists;
- an SSH device: `null` (unknown: finding out would mean connecting to it).

Example:
    GET /v1/inventory
    {"object": "list", "data": [{"name": "r1", "platform": "frr", "transport": "vtysh", "live": true}]}
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gateway.deps import Caller, services
from gateway.openapi import responses
from tools.inventory import Device
from tools.lab.proc import alive

__all__ = ["DeviceStatus", "InventoryView", "liveness", "router"]

NETNS_DIR = Path("/run/netns")  # where `ip netns add` binds named namespaces

router = APIRouter(prefix="/v1")


class DeviceStatus(BaseModel):
    """One device as the status strip shows it."""

    name: str
    platform: str
    transport: str
    live: bool | None


class InventoryView(BaseModel):
    """`{"object": "list", "data": [DeviceStatus, ...]}`."""

    object: str = "list"
    data: list[DeviceStatus]


@router.get("/inventory", responses=responses(InventoryView))
async def inventory(request: Request, who: Caller) -> InventoryView:
    """The caller's tenant devices, each with a liveness flag (`null` when unknown)."""
    devices = services(request).toolbox.inventory.for_tenant(who.tenant).devices
    return InventoryView(data=await asyncio.to_thread(lambda: [_status(d) for d in devices]))


def _status(device: Device) -> DeviceStatus:
    return DeviceStatus(name=device.name, platform=device.platform, transport=device.transport, live=liveness(device))


def liveness(device: Device, netns_dir: Path = NETNS_DIR) -> bool | None:
    """Whether the device looks alive, from local files only; `None` when that cannot be told cheaply."""
    if device.transport == "vtysh" and device.vty_socket:
        return _daemon_alive(Path(device.vty_socket) / "zebra.pid")
    if device.transport == "vtysh" and device.netns:
        return (netns_dir / device.netns).exists()
    return None


def _daemon_alive(pid_file: Path) -> bool | None:
    """True when the pid file names a running process, False when it is missing, None when unreadable."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    return alive(int(text)) if text.isdigit() else False
