"""The SSH transport (scrapli): the only module that imports scrapli.

Sends the lines of an allow-listed CLI command over SSH with the scrapli platform definition for the
device's platform, and returns the text (structured output first: the templates ask for `json` where the
platform has it). Exec templates (ping, traceroute) are local-only and refused here.

Example:
    transport = ScrapliTransport()
    text = await transport.send(device, ALLOW_LIST.render("frr", "bgp_summary"), timeout_s=10)
"""

from __future__ import annotations

import asyncio

from scrapli import AuthOptions, Cli, TransportBinOptions

from tools.commands import ALLOW_LIST, AllowList, Command, Kind
from tools.errors import CommandNotAllowed, ToolFailed
from tools.inventory import Device

__all__ = ["DEFINITIONS", "ScrapliTransport"]

# our platform name -> scrapli's definition name
DEFINITIONS = {
    "frr": "cumulus_vtysh",
    "arista_eos": "arista_eos",
    "juniper_junos": "juniper_junos",
    "cisco_iosxe": "cisco_iosxe",
}


class ScrapliTransport:
    """One SSH session per command (no pooling): open, send the allow-listed lines, close."""

    def __init__(self, allow_list: AllowList = ALLOW_LIST) -> None:
        self._allow = allow_list

    async def send(self, device: Device, command: Command, timeout_s: float) -> str:
        self._allow.verify(command)
        if command.kind is not Kind.CLI:
            raise CommandNotAllowed(f"{command.template} runs only on local devices, not over SSH")
        if not device.host:
            raise ToolFailed(f"device {device.name!r} has no host for SSH")
        try:
            return await asyncio.wait_for(self._send(device, command), timeout=timeout_s)
        except TimeoutError:
            raise ToolFailed(f"{command.template} on {device.name} timed out after {timeout_s} s") from None
        except Exception as exc:  # noqa: BLE001 - the edge of a third-party library: any failure is a ToolFailed
            raise ToolFailed(f"{command.template} on {device.name} over SSH failed: {type(exc).__name__}") from None

    async def _send(self, device: Device, command: Command) -> str:
        cli = Cli(
            device.host or "",
            port=device.port,
            definition_file_or_name=DEFINITIONS[device.platform],
            auth_options=AuthOptions(username=device.username, private_key_path=device.ssh_key),
            transport_options=TransportBinOptions(
                known_hosts_path=device.known_hosts, enable_strict_key=device.known_hosts is not None
            ),
        )
        async with cli as session:
            result = await session.send_inputs_async(list(command.lines))
        if result.failed:
            raise ToolFailed(f"{command.template} on {device.name} was refused by the device")
        return result.result
