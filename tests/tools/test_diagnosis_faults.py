"""Evidence-first diagnosis against the real FRR lab: inject a fault, paste the alert an engineer would paste,
plan checks from it and the demo runbook, run them through the registry, and read findings that name the
fault and its place. The healthy lab gives no problem at all for the same alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tools import Toolbox, ToolContext, ToolResult
from tools.diagnosis import Diagnosis, Finding, NetworkMap, Severity, diagnose
from tools.lab import FAULTS, Faults

RUNBOOKS = Path(__file__).resolve().parents[2] / "infra" / "demo" / "runbooks" / "network"

ALERTS = {
    "bgp-shutdown": (
        "[FIRING:1] BGPSessionDown instance=r1 peer=10.0.13.2: BGP session left Established",
        "bgp-session-down",
    ),
    "link-down": ('InterfaceDown{instance="r1", interface="r1-r3"}: ifOperStatus is down', "interface-errors-flapping"),
    "silent-drop": (
        "r1 ospfd: AdjChg: Nbr 10.255.0.3 on r1-r3: Full -> Deleted (InactivityTimer); OSPFNeighborDown",
        "ospf-adjacency-stuck",
    ),
    "ospf-cost": ("OSPF path from r1 to r3's loopback 10.255.0.3 takes the long way round", "ospf-adjacency-stuck"),
    "dns-stop": ("DNSResolutionFailure: h1 cannot resolve r2.lab.test via 10.3.0.53", "dns-resolution-failure"),
    "bgp-password": ("BGPSessionDown: r1 neighbor 10.0.13.2 stuck in Connect", "bgp-session-down"),
    "bgp-peer-as": ("[FIRING:1] BGPPeerDown instance=r1 peer=10.0.13.2", "bgp-session-down"),
    "bgp-max-prefix": ("r1: BGP session to 10.0.13.2 went Idle", "bgp-session-down"),
    "bgp-filter": ("BGPPrefixesMissing: r1 receives no prefixes from BGP peer 10.0.13.2", "bgp-session-down"),
    "mtu-mismatch": ("OSPFNeighborStuck: r1 neighbor 10.255.0.3 on r1-r3 stuck in ExStart", "mtu-mismatch"),
    "ospf-hello": ("OSPFNeighborDown: r1 lost OSPF neighbor 10.255.0.3 on r1-r3", "ospf-adjacency-stuck"),
    "static-blackhole": ("HighPacketLoss: h1 cannot reach 10.2.0.10", "packet-loss"),
    "dns-wrong-answer": ("h1: r2.lab.test resolves but nothing answers at that address", "dns-resolution-failure"),
}
# The faults added after the first five: what the findings must say (each names the fault and its place).
NAMED = {
    "bgp-password": "r1: BGP session r1 - r3 MD5 password set on r1, none on r3",
    "bgp-peer-as": "r1: BGP neighbor 10.0.13.2 (r3) configured with remote AS 65099, but r3 is AS 65003",
    "bgp-max-prefix": "r1: BGP neighbor 10.0.13.2 (r3) Idle (PfxCt): maximum-prefix limit exceeded",
    "bgp-filter": "r1: BGP neighbor 10.0.13.2 (r3) Established but 0 prefixes accepted (inbound prefix-list",
    "mtu-mismatch": "r1: link r1-r3 to r3 r3-r1 mtu 1400 here, 1500 at r3 r3-r1",
    "ospf-hello": "r1: link r1-r3 to r3 r3-r1 ospf hello 2 s here, 1 s at r3 r3-r1",
    "static-blackhole": "r1: static route to 10.2.0.0/24 selected, distance 1: blackhole (dropped)",
    "dns-wrong-answer": "dns: DNS answer for r2.lab.test 10.255.0.22, but r2.lab.test is 10.255.0.2",
}


def user_ctx(box: Toolbox) -> ToolContext:
    return box.context("demo", box.registry.names, role="user", key_id="k-diag", request_id="r-diag")


def run_diagnosis(box: Toolbox, alert: str, runbook: str) -> Diagnosis:
    ctx = user_ctx(box)
    net = NetworkMap.from_lab(box.inventory.for_tenant("demo"))
    excerpts = [(RUNBOOKS / f"{runbook}.md").read_text()]

    async def invoke(name: str, arguments: Mapping[str, Any]) -> ToolResult:
        return await box.registry.invoke(name, arguments, ctx)

    return asyncio.run(diagnose(alert, excerpts, ctx, box.registry, net, invoke=invoke))


def until_problem(box: Toolbox, fault: str, wanted: str, attempts: int = 40) -> Diagnosis:
    """Diagnose until a problem's headline contains `wanted` (protocol timers take seconds); returns the last."""
    alert, runbook = ALERTS[fault]
    diagnosis = run_diagnosis(box, alert, runbook)
    for _ in range(attempts):
        if any(wanted in p.headline for p in diagnosis.problems):
            break
        time.sleep(0.5)
        diagnosis = run_diagnosis(box, alert, runbook)
    return diagnosis


def assert_evidence_is_literal(diagnosis: Diagnosis) -> None:
    outputs = [r.output for r in diagnosis.run.results] + [f.detail for f in diagnosis.run.failures]
    for finding in diagnosis.findings:
        assert any(finding.evidence in out for out in outputs), finding


def headlines(findings: list[Finding]) -> list[str]:
    return [f.headline for f in findings]


def test_bgp_shutdown_is_named_on_r1(box: Toolbox, faults: Faults) -> None:
    faults.inject("bgp-shutdown")
    d = until_problem(box, "bgp-shutdown", "Idle (Admin)")
    assert "r1: BGP neighbor 10.0.13.2 (r3) Idle (Admin): administratively shut down" in headlines(d.problems)
    assert any(p.tool == "bgp_neighbor" and "admin shutdown" in p.fact for p in d.problems)
    assert d.plan[0].tool == "bgp_neighbor" and d.plan[0].arguments == {"device": "r1", "peer": "10.0.13.2"}
    assert_evidence_is_literal(d)
    assert d.text.splitlines()[1].startswith("PROBLEM r1: BGP neighbor 10.0.13.2 (r3)")


def test_link_down_is_named_on_the_interface(box: Toolbox, faults: Faults) -> None:
    faults.inject("link-down")
    d = until_problem(box, "link-down", "OSPF neighbor on r1-r3")
    assert "r1: interface r1-r3 admin down oper down: shut down, mtu 1500" in headlines(d.problems)
    assert "r3: interface r3-r1 admin up oper down: no carrier, mtu 1500" in headlines(d.problems)  # the far end
    assert any(h.startswith("r1: ping 10.0.13.2 (r3) across r1-r3 fails") for h in headlines(d.problems))
    assert_evidence_is_literal(d)


def test_silent_drop_is_loss_across_a_link_that_is_up(box: Toolbox, faults: Faults) -> None:
    faults.inject("silent-drop")
    d = until_problem(box, "silent-drop", "OSPF neighbor on r1-r3")
    problems = headlines(d.problems)
    assert any(h.startswith("r1: ping 10.0.13.2 (r3) across r1-r3 100% loss") for h in problems)
    assert "r1: interface r1-r3 admin up oper up, mtu 1500" in headlines(
        [f for f in d.findings if f.severity is Severity.OK]
    )
    assert "r1: OSPF neighbor on r1-r3 missing: no adjacency with r3 on a router link" in problems
    assert_evidence_is_literal(d)


def test_ospf_cost_shows_as_a_detour_around_the_direct_link(box: Toolbox, faults: Faults) -> None:
    faults.inject("ospf-cost")
    d = until_problem(box, "ospf-cost", "not the direct link r1-r3")
    detour = next(p for p in d.problems if "not the direct link" in p.fact)
    assert detour.headline == "r1: ospf route to 10.255.0.3/32 goes via r1-r2, not the direct link r1-r3 to r3"
    assert detour.evidence == "r1 10.255.0.3/32 selected via ospf (distance 110): 10.0.12.2 on r1-r2"
    assert_evidence_is_literal(d)


def test_dns_stop_is_the_server_refusing(box: Toolbox, faults: Faults) -> None:
    faults.inject("dns-stop")
    d = until_problem(box, "dns-stop", "DNS server 10.3.0.53")
    assert "dns: DNS server 10.3.0.53 not answering: connection refused (nothing listens for DNS there)" in headlines(
        d.problems
    )
    assert any(f.tool == "ping" and f.severity is Severity.OK and "10.3.0.53" in f.subject for f in d.findings)
    assert_evidence_is_literal(d)


@pytest.mark.parametrize("fault", sorted(NAMED))
def test_each_added_fault_is_named_with_its_place(box: Toolbox, faults: Faults, fault: str) -> None:
    assert fault in FAULTS
    faults.inject(fault)
    d = until_problem(box, fault, NAMED[fault])
    assert any(h.startswith(NAMED[fault]) for h in headlines(d.problems)), d.text
    assert_evidence_is_literal(d)


@pytest.mark.parametrize("fault", sorted(ALERTS))
def test_the_healthy_lab_has_no_problem(box: Toolbox, fault: str) -> None:
    alert, runbook = ALERTS[fault]
    d = run_diagnosis(box, alert, runbook)
    assert d.plan and not d.run.failures
    assert d.problems == [], d.text
    assert d.text.startswith(f"Findings from {len(d.plan)} read-only checks: no problem found")
