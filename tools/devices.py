"""Device access: the tenant's inventory, the allow-list and one transport per inventory `transport`.

`Devices.run` resolves the device in the caller's tenant inventory (refusing others before anything runs),
renders an allow-listed template for its platform, and hands the `Command` to the transport, which
re-verifies it and runs it as an argument list (never a shell).

Example:
    devices = Devices(inventory, {"vtysh": LocalFrrTransport()})
    device, text = await devices.run("demo", "r1", "bgp_summary")
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from tools.commands import ALLOW_LIST, AllowList, Command, Kind
from tools.errors import CommandNotAllowed, ToolFailed
from tools.inventory import Device, Inventory
from tools.registry import Risk

__all__ = ["Devices", "LocalFrrTransport", "Transport"]


class Transport(Protocol):
    """Delivers one allow-listed command to a device and returns its raw output."""

    async def send(self, device: Device, command: Command, timeout_s: float) -> str: ...


class LocalFrrTransport:
    """FRR on this machine: `vtysh --vty_socket DIR -c ...` for CLI lines, `ip netns exec NS argv` for exec ones."""

    def __init__(self, allow_list: AllowList = ALLOW_LIST) -> None:
        self._allow = allow_list

    def argv(self, device: Device, command: Command) -> list[str]:
        """The argument list for a verified command (exposed for the benchmark's direct-call baseline)."""
        self._allow.verify(command)
        if command.kind is Kind.EXEC:
            if not device.netns:
                raise CommandNotAllowed(f"device {device.name!r} has no network namespace to run {command.template}")
            return ["ip", "netns", "exec", device.netns, *command.lines]
        if not device.vty_socket:
            raise CommandNotAllowed(f"device {device.name!r} has no vty_socket configured")
        argv = ["vtysh", "--vty_socket", device.vty_socket]
        for line in command.lines:
            argv += ["-c", line]
        return argv

    async def send(self, device: Device, command: Command, timeout_s: float) -> str:
        argv = self.argv(device, command)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ToolFailed(f"{command.template} on {device.name} timed out after {timeout_s} s") from None
        if proc.returncode not in command.ok_codes:
            detail = (err or out).decode(errors="replace").strip()[:300]
            raise ToolFailed(f"{command.template} on {device.name} failed ({proc.returncode}): {detail}")
        return out.decode(errors="replace")


class Devices:
    """The one way tools reach devices."""

    def __init__(
        self, inventory: Inventory, transports: Mapping[str, Transport], allow_list: AllowList = ALLOW_LIST
    ) -> None:
        self.inventory = inventory
        self._transports = dict(transports)
        self._allow = allow_list

    def prepare(
        self, tenant: str, device_name: str, template: str, risk: Risk, **params: object
    ) -> tuple[Device, Command]:
        """Resolve and render without running: raises `UnknownDevice` or `CommandNotAllowed`."""
        device = self.inventory.device(tenant, device_name)
        command = self._allow.render(device.platform, template, **params)
        if command.risk is Risk.CHANGE and risk is not Risk.CHANGE:
            raise CommandNotAllowed(f"{template!r} changes the device; only an approved action may run it")
        if device.transport not in self._transports:
            raise ToolFailed(f"no {device.transport!r} transport is configured for device {device.name!r}")
        return device, command

    async def run(
        self,
        tenant: str,
        device_name: str,
        template: str,
        *,
        risk: Risk = Risk.READ,
        timeout_s: float = 10.0,
        **params: object,
    ) -> tuple[Device, str]:
        """Run one allow-listed template on a tenant's device; returns the device and the raw output."""
        device, command = self.prepare(tenant, device_name, template, risk, **params)
        return device, await self._transports[device.transport].send(device, command, timeout_s)
