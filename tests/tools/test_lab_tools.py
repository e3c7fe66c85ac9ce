"""Read-only tools against the real FRR lab: BGP, OSPF, routes, interfaces, redacted config, ping, DNS,
and what they show after a link fails."""

from __future__ import annotations

import asyncio
import time

from tools import Toolbox, ToolContext
from tools.lab import Faults, Lab
from tools.lab.topology import LAB_VTY_PASSWORD


def ctx(box: Toolbox, role: str = "admin", tenant: str = "demo") -> ToolContext:
    return box.context(tenant, box.registry.names, role=role, key_id="k-test", request_id="r-test")


def call(box: Toolbox, tool: str, **arguments: object) -> str:
    return asyncio.run(box.registry.invoke(tool, arguments, ctx(box))).output


def eventually(box: Toolbox, tool: str, arguments: dict[str, object], wanted: str, attempts: int = 60) -> str:
    """Poll a tool until its output contains `wanted` (routing converges in seconds); returns the last output."""
    output = ""
    for _ in range(attempts):
        output = call(box, tool, **arguments)
        if wanted in output:
            break
        time.sleep(0.5)
    return output


def test_bgp_summary_shows_sessions_established(box: Toolbox) -> None:
    out = call(box, "bgp_summary", device="r1")
    assert "2 peers, 2 Established" in out
    assert "10.0.12.2 (r2) AS 65002 Established" in out and "10.0.13.2 (r3) AS 65003 Established" in out


def test_ospf_route_and_interface_tools(box: Toolbox) -> None:
    assert out_has(call(box, "ospf_neighbors", device="r2"), "2 neighbors", "10.255.0.1 Full", "10.255.0.3 Full")
    route = call(box, "route_lookup", device="r1", destination="10.3.0.0/24")
    assert route.splitlines()[0] == "r1 10.3.0.0/24 selected via bgp (distance 20): 10.0.13.2 on r1-r3"
    assert "selected via bgp" in call(box, "route_lookup", device="r1", destination="10.3.0.53")
    iface = call(box, "interface_status", device="r1", interface="r1-r3")
    assert "admin up oper up" in iface and "counters: rx" in iface
    assert "ospf: area 0.0.0.0 cost 10 hello 1 s dead 4 s mtu 1500" in iface
    assert "r1 r1-h1: admin up oper up" in call(box, "interface_status", device="r1")
    neighbor = call(box, "bgp_neighbor", device="r3", peer="10.0.23.1")
    assert "(r2) AS 65002: state Established" in neighbor


def out_has(text: str, *parts: str) -> bool:
    return all(p in text for p in parts)


def test_the_same_router_over_ssh_with_scrapli(box: Toolbox) -> None:
    over_ssh = call(box, "bgp_summary", device="r2-ssh")
    assert over_ssh.startswith("r2-ssh BGP AS 65002 router-id 10.255.0.2: 2 peers, 2 Established")
    route = call(box, "route_lookup", device="r2-ssh", destination="10.1.0.0/24")
    assert "selected via bgp (distance 20): 10.0.12.1 on r2-r1" in route
    config = call(box, "show_running_config", device="r2-ssh")
    assert "router bgp 65002" in config and LAB_VTY_PASSWORD not in config
    iface = call(box, "interface_status", device="r2-ssh", interface="r2-r3")
    assert "r2-ssh r2-r3: admin up oper up mtu 1500" in iface and "ospf: area 0.0.0.0 cost 10 hello 1 s" in iface


def test_running_config_comes_back_redacted(box: Toolbox) -> None:
    config = call(box, "show_running_config", device="r2")
    assert "router bgp 65002" in config
    assert LAB_VTY_PASSWORD not in config and "password <SECRET:password:1>" in config


def test_ping_traceroute_and_lab_dns(box: Toolbox) -> None:
    assert "0% packet loss" in call(box, "ping", device="h1", target="10.3.0.53", count=2)
    trace = call(box, "traceroute", device="h1", target="10.3.0.53")
    assert "10.1.0.1" in trace and "10.3.0.53" in trace
    assert call(box, "dns_query", device="h1", name="r3.lab.test", server="10.3.0.53").endswith("10.255.0.3")
    unknown = call(box, "dns_query", device="h1", name="nope.lab.test", server="10.3.0.53")
    assert unknown.startswith("nope.lab.test A @10.3.0.53: no answer (the server replied ")


def test_link_down_shows_reroute_and_neighbors_down(box: Toolbox, faults: Faults, lab: Lab) -> None:
    faults.inject("link-down")
    wanted = "selected via bgp (distance 20): 10.0.12.2 on r1-r2"
    route = eventually(box, "route_lookup", {"device": "r1", "destination": "10.3.0.0/24"}, wanted)
    assert route.splitlines()[0] == "r1 10.3.0.0/24 selected via bgp (distance 20): 10.0.12.2 on r1-r2"
    neighbor = eventually(box, "bgp_neighbor", {"device": "r1", "peer": "10.0.13.2"}, "state Idle")
    assert "state Established" not in neighbor
    assert "1 Established" in call(box, "bgp_summary", device="r1")
    ospf = eventually(box, "ospf_neighbors", {"device": "r1"}, "1 neighbors")
    assert "10.255.0.3" not in ospf and "10.255.0.2 Full" in ospf
    assert "oper down" in call(box, "interface_status", device="r1", interface="r1-r3")
    assert "0% packet loss" in call(box, "ping", device="h1", target="10.3.0.53", count=2)  # via r2 now


def test_dns_stop_fault_and_heal(box: Toolbox, faults: Faults, lab: Lab) -> None:
    faults.inject("dns-stop")
    stopped = call(box, "dns_query", device="h1", name="r1.lab.test", server="10.3.0.53")
    assert stopped == (
        "r1.lab.test A @10.3.0.53: no answer, the server could not be reached: communications error to"
        " 10.3.0.53#53: connection refused; no servers could be reached"
    )
    assert faults.heal() == ["dns-stop"]
    assert call(box, "dns_query", device="h1", name="r1.lab.test", server="10.3.0.53").endswith("10.255.0.1")


def test_silent_drop_is_found_by_the_timers(box: Toolbox, faults: Faults) -> None:
    faults.inject("silent-drop")  # carrier stays up: only hellos and keepalives notice
    assert "admin up oper up" in call(box, "interface_status", device="r1", interface="r1-r3")
    ospf = eventually(box, "ospf_neighbors", {"device": "r1"}, "1 neighbors")
    assert "10.255.0.3" not in ospf
    neighbor = eventually(box, "bgp_neighbor", {"device": "r1", "peer": "10.0.13.2"}, "state Idle")
    assert "state Established" not in neighbor
    wanted = "selected via bgp (distance 20): 10.0.12.2 on r1-r2"
    assert wanted in eventually(box, "route_lookup", {"device": "r1", "destination": "10.3.0.0/24"}, wanted)
