"""Disallowed commands are refused before anything reaches a device: not allow-listed, shell metacharacters,
devices outside the caller's tenant, change templates on the read path, tampered commands, ungranted tools."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.tools.conftest import CountingTransport
from tools import CommandNotAllowed, InvalidArguments, Risk, Toolbox, ToolNotAllowed, UnknownDevice
from tools.commands import ALLOW_LIST
from tools.devices import LocalFrrTransport


def test_configure_terminal_is_not_an_allowed_command(box: Toolbox, transport: CountingTransport) -> None:
    for command in ("configure terminal", "show running-config; reboot", "write memory", "bgp_summary; reboot"):
        with pytest.raises(CommandNotAllowed):
            ALLOW_LIST.render("frr", command)
    with pytest.raises(CommandNotAllowed):  # a change template on the read path
        asyncio.run(box.devices.run("demo", "r1", "interface_shutdown", interface="r1-r3"))
    with pytest.raises(CommandNotAllowed):  # a value that would add a word or a line
        box.devices.prepare("demo", "r1", "bgp_neighbor", Risk.READ, peer="10.0.12.2\nconfigure terminal")
    assert transport.sent == []


def test_exec_templates_never_go_over_ssh(box: Toolbox, transport: CountingTransport) -> None:
    ctx = box.context("demo", box.registry.names, role="admin")
    with pytest.raises(CommandNotAllowed):
        asyncio.run(box.registry.invoke("ping", {"device": "r2-ssh", "target": "10.3.0.53"}, ctx))
    assert transport.sent == []


def test_a_tampered_command_is_refused_by_the_transport(box: Toolbox) -> None:
    device, command = box.devices.prepare("demo", "r1", "bgp_summary", Risk.READ)
    forged = dataclasses.replace(
        command, lines=("configure terminal", "router bgp 65001", "neighbor 10.0.12.2 shutdown")
    )
    with pytest.raises(CommandNotAllowed):
        asyncio.run(LocalFrrTransport().send(device, forged, 5.0))


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("interface_status", {"device": "r1", "interface": "r1-r3; reboot"}),
        ("interface_status", {"device": "r1", "interface": "$(reboot)"}),
        ("bgp_neighbor", {"device": "r1", "peer": "10.0.12.2 json; reboot"}),
        ("route_lookup", {"device": "r1", "destination": "10.3.0.0/24 | sh"}),
        ("ping", {"device": "h1", "target": "10.3.0.53", "count": 5000}),
        ("bgp_summary", {"device": "r1; reboot"}),
        ("bgp_summary", {"device": "r1", "command": "configure terminal"}),
        ("dns_query", {"device": "h1", "name": "x.lab.test; reboot", "server": "10.3.0.53"}),
    ],
)
def test_bad_arguments_never_reach_a_device(
    box: Toolbox, transport: CountingTransport, tool: str, arguments: dict[str, object]
) -> None:
    ctx = box.context("demo", box.registry.names, role="admin")
    with pytest.raises(InvalidArguments):
        asyncio.run(box.registry.invoke(tool, arguments, ctx))
    assert transport.sent == []


def test_devices_outside_the_tenant_inventory_are_refused(box: Toolbox, transport: CountingTransport) -> None:
    other = box.context("acme", box.registry.names, role="admin")  # acme has no inventory: r1 is not theirs
    with pytest.raises(UnknownDevice):
        asyncio.run(box.registry.invoke("bgp_summary", {"device": "r1"}, other))
    demo = box.context("demo", box.registry.names, role="admin")
    with pytest.raises(UnknownDevice):
        asyncio.run(box.registry.invoke("bgp_summary", {"device": "core-sw9"}, demo))
    with pytest.raises(UnknownDevice):
        asyncio.run(box.registry.invoke("interface_shutdown", {"device": "core-sw9", "interface": "eth0"}, demo))
    assert transport.sent == []
    assert box.approvals.list("demo") == []


def test_grants_deny_by_default_per_tenant_and_role(box: Toolbox, transport: CountingTransport) -> None:
    names = box.registry.names
    user = box.context("demo", names, role="user")
    assert "bgp_summary" in user.grants
    assert not {"show_running_config", "interface_shutdown", "set_ospf_cost"} & user.grants
    assert "show_running_config" in box.context("demo", names, role="approver").grants
    assert box.context("demo", ["bgp_summary"], role="admin").grants == {"bgp_summary"}  # tenant grants bound it
    assert box.context("demo", names, role="intern").grants == frozenset()  # a role not in the map: nothing
    with pytest.raises(ToolNotAllowed):
        asyncio.run(box.registry.invoke("interface_shutdown", {"device": "r1", "interface": "r1-r3"}, user))
    # a tenant without a role map: its granted read tools for every role, change tools for admin only
    acme_user = box.context("acme", ["dns_lookup", "interface_shutdown"], role="user")
    assert acme_user.grants == {"dns_lookup"}
    assert transport.sent == []
