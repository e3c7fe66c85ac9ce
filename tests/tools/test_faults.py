"""Every lab fault against the real FRR lab: injected, seen through the read tool meant to show it (the telltale
line documented in docs/tools.md), healed and re-converged; ospf-cost moves the forwarding path; a fault fixed
by an approved change is no longer reported as active."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from tests.tools.test_lab_tools import call, ctx
from tools import Toolbox
from tools.lab import FAULT_TABLE, FAULTS, Faults, Lab

R1_R3: dict[str, object] = {"device": "r1", "peer": "10.0.13.2"}
R1: dict[str, object] = {"device": "r1"}
R1_LINK: dict[str, object] = {"device": "r1", "interface": "r1-r3"}


@dataclass(frozen=True)
class View:
    """One read tool call and what it must show: every part present, `absent` missing."""

    tool: str
    arguments: dict[str, object]
    parts: tuple[str, ...]
    absent: str = ""

    def seen(self, output: str) -> bool:
        return all(p in output for p in self.parts) and not (self.absent and self.absent in output)


@dataclass(frozen=True)
class Case:
    fault: str
    views: tuple[View, ...] = field(default_factory=tuple)


CASES = [
    Case(
        "bgp-shutdown",
        (
            View("bgp_summary", R1, ("10.0.13.2 (r3) AS 65003 Idle (Admin)",)),
            View("bgp_neighbor", R1_R3, ("state Idle (admin shutdown)", "last reset: Admin. shutdown")),
        ),
    ),
    Case("bgp-password", (View("bgp_neighbor", R1_R3, ("md5 password: set",), absent="state Established"),)),
    Case(
        "bgp-peer-as",
        (View("bgp_neighbor", R1_R3, ("AS 65099", "(OPEN Message Error/Bad Peer AS)"), absent="state Established"),),
    ),
    Case(
        "bgp-max-prefix",
        (
            View("bgp_summary", R1, ("10.0.13.2 (r3) AS 65003 Idle (PfxCt)",)),
            View("bgp_neighbor", R1_R3, ("(Cease/Maximum Number of Prefixes Reached)", "max-prefix 1")),
        ),
    ),
    Case(
        "bgp-filter",
        (
            View("bgp_neighbor", R1_R3, ("state Established", "0 prefixes accepted", "prefix-list NETOPS-FAULT")),
            View("route_lookup", {**R1, "destination": "10.3.0.0/24"}, ("selected via bgp (distance 20): 10.0.12.2",)),
        ),
    ),
    Case(
        "mtu-mismatch",
        (View("ospf_neighbors", R1, ("10.255.0.3 ExStart",)), View("interface_status", R1_LINK, ("mtu 1400",))),
    ),
    Case(
        "ospf-hello",
        (
            View("ospf_neighbors", R1, ("1 neighbors",), absent="10.255.0.3"),
            View("interface_status", R1_LINK, ("admin up oper up", "hello 2 s dead 4 s")),
        ),
    ),
    Case(
        "static-blackhole",
        (
            View("route_lookup", {**R1, "destination": "10.2.0.10"}, ("selected via static (distance 1): blackhole",)),
            View("ping", {"device": "h1", "target": "10.2.0.10", "count": 2}, ("100% packet loss",)),
        ),
    ),
    Case(
        "dns-wrong-answer",
        (
            View(
                "dns_query",
                {"device": "h1", "name": "r2.lab.test", "server": "10.3.0.53"},
                ("@10.3.0.53: 10.255.0.22",),
            ),
        ),
    ),
]


def until(box: Toolbox, view: View, attempts: int = 40) -> str:
    """Poll the view's tool until it shows what it should (routing converges in seconds); the last output."""
    output = ""
    for _ in range(attempts):
        output = call(box, view.tool, **view.arguments)
        if view.seen(output):
            break
        time.sleep(0.5)
    return output


def test_the_table_has_ten_or_more_faults_each_described() -> None:
    assert len(FAULTS) >= 10 and set(FAULTS) == set(FAULT_TABLE)
    for fault in FAULT_TABLE.values():
        assert fault.does and fault.shows and "\n" not in fault.does


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fault)
def test_each_fault_shows_in_its_tool_then_heals(case: Case, box: Toolbox, faults: Faults, lab: Lab) -> None:
    faults.inject(case.fault)
    for view in case.views:
        output = until(box, view)
        assert view.seen(output), output
    assert faults.active() == [case.fault]
    assert faults.heal() == [case.fault]
    lab.wait_converged()
    assert faults.active() == []
    first = case.views[0]
    assert not first.seen(call(box, first.tool, **first.arguments))


def hops(trace: str) -> list[str]:
    return [line.split()[1] for line in trace.splitlines()[1:] if line.split() and line.split()[0].isdigit()]


def test_ospf_cost_moves_the_forwarding_path(box: Toolbox, faults: Faults, lab: Lab) -> None:
    loopback = {**R1, "destination": "10.255.0.3"}
    direct = "r1 10.255.0.3/32 selected via ospf (distance 110): 10.0.13.2 on r1-r3"
    assert call(box, "route_lookup", **loopback).splitlines()[0] == direct
    assert hops(call(box, "traceroute", device="h1", target="10.255.0.3")) == ["10.1.0.1", "10.255.0.3"]
    faults.inject("ospf-cost")
    moved = until(box, View("route_lookup", loopback, ("selected via ospf (distance 110): 10.0.12.2 on r1-r2",)))
    assert moved.splitlines()[0] == "r1 10.255.0.3/32 selected via ospf (distance 110): 10.0.12.2 on r1-r2"
    assert hops(call(box, "traceroute", device="h1", target="10.255.0.3")) == ["10.1.0.1", "10.0.12.2", "10.255.0.3"]
    assert "ospf: area 0.0.0.0 cost 1000" in call(box, "interface_status", **R1_LINK)
    assert faults.heal() == ["ospf-cost"]
    lab.wait_converged()  # includes every loopback over its direct link again
    assert call(box, "route_lookup", **loopback).splitlines()[0] == direct


def test_a_fault_fixed_by_an_approved_change_is_no_longer_active(box: Toolbox, faults: Faults, lab: Lab) -> None:
    faults.inject("link-down")
    assert lab.status(faults.active()).faults == ["link-down"]
    proposer = ctx(box)
    proposed = asyncio.run(box.registry.invoke("interface_no_shutdown", R1_LINK, proposer)).output
    assert "before: interface r1-r3, admin down, oper down" in proposed
    (action,) = box.approvals.list("demo", "pending")
    done = asyncio.run(box.approvals.approve("demo", action.id, key_id="approver-1", role="approver"))
    assert done.status == "executed"
    assert faults.recorded() == ["link-down"]  # written down, but no longer true on r1
    assert faults.active() == [] and lab.status(faults.active()).faults == []
    assert faults.heal() == []
    lab.wait_converged()
