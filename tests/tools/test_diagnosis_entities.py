"""Entity extraction from questions, syslog lines and Alertmanager/Prometheus alert text, against the demo
tenant's real inventory and the lab topology (no network needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.diagnosis import (
    AddressRef,
    HostRef,
    InterfaceRef,
    NetworkMap,
    PeerRef,
    Topic,
    extract_entities,
)
from tools.inventory import Inventory

INVENTORY = Path(__file__).resolve().parents[2] / "infra" / "inventory"


@pytest.fixture(scope="module")
def net() -> NetworkMap:
    inventory = Inventory.load(INVENTORY, lab_dir="/run/netops-lab", lab_prefix="nl", lab_ssh_port="2222")
    return NetworkMap.from_lab(inventory.for_tenant("demo"))


ALERTMANAGER = """[FIRING:1] BGPSessionDown (r1 10.0.13.2 critical)
Labels:
 - alertname = BGPSessionDown
 - instance = r1:9100
 - peer = 10.0.13.2
 - severity = critical
Annotations:
 - summary = BGP session on r1 to 10.0.13.2 left Established
"""


def test_alertmanager_bgp_alert(net: NetworkMap) -> None:
    e = extract_entities(ALERTMANAGER, net)
    assert e.alerts == ("BGPSessionDown",)
    assert e.named == ("r1",)
    assert e.devices == ("r1", "r3")  # r3 owns 10.0.13.2
    assert e.peers == (PeerRef("r1", "10.0.13.2", "r3"),)
    assert e.addresses == (AddressRef("10.0.13.2", "r3", "r3-r1", "r3"),)
    assert Topic.BGP in e.topics


def test_syslog_ospf_adjacency_change(net: NetworkMap) -> None:
    line = "Nov 30 10:00:01 r1 ospfd[812]: AdjChg: Nbr 10.255.0.3(default) on r1-r3: Full -> Deleted (InactivityTimer)"
    e = extract_entities(line, net)
    assert e.named == ("r1",)
    assert e.interfaces == (InterfaceRef("r1-r3", "r1"),)
    assert AddressRef("10.255.0.3", "r3", "lo", "r3") in e.addresses
    assert e.peers == ()  # a router id is not a BGP session address
    assert Topic.OSPF in e.topics


def test_prometheus_series_with_labels(net: NetworkMap) -> None:
    text = 'InterfaceDown{instance="r2", interface="r2-r3", job="snmp"} 1'
    e = extract_entities(text, net)
    assert e.alerts == ("InterfaceDown",)
    assert e.interfaces == (InterfaceRef("r2-r3", "r2"),)
    assert e.devices == ("r2",)
    assert Topic.INTERFACE in e.topics


def test_dns_question_keeps_hostnames_apart_from_devices(net: NetworkMap) -> None:
    e = extract_entities("DNSResolutionFailure: h1 cannot resolve r1.lab.test or web.lab.test via 10.3.0.53", net)
    assert e.named == ("h1",)  # r1 inside r1.lab.test is a hostname, not the device
    assert e.hostnames == (HostRef("r1.lab.test", "10.255.0.1"), HostRef("web.lab.test", ""))
    assert e.addresses == (AddressRef("10.3.0.53", label="dns"),)  # the DNS server is not an inventory device
    assert {Topic.DNS} <= e.topics and e.alerts == ("DNSResolutionFailure",)


def test_unknown_names_are_not_invented(net: NetworkMap) -> None:
    e = extract_entities("core-sw9 reports HighPacketLoss to 192.0.2.7 on eth0; see bgpd.conf and 10.9.0.0/16", net)
    assert e.devices == () and e.named == ()
    assert e.addresses == (AddressRef("192.0.2.7"),)
    assert e.interfaces == (InterfaceRef("eth0"),)
    assert e.prefixes == ("10.9.0.0/16",)
    assert e.hostnames == ()  # a file name is not a host
    assert e.alerts == ("HighPacketLoss",) and Topic.REACHABILITY in e.topics


def test_neighbor_words_make_an_unknown_address_a_peer_of_the_one_named_router(net: NetworkMap) -> None:
    e = extract_entities("BGP neighbor 192.0.2.9 on r2 is stuck in Active", net)
    assert e.peers == (PeerRef("r2", "192.0.2.9", ""),)


def test_interface_names_do_not_leak_device_names(net: NetworkMap) -> None:
    e = extract_entities("the r1-r3 link flaps; GigabitEthernet0/0/1 and ge-0/0/0 are fine", net)
    assert e.named == ()
    assert e.devices == ("r1",)  # implied: r1-r3 is r1's interface
    assert [i.name for i in e.interfaces] == ["r1-r3", "GigabitEthernet0/0/1", "ge-0/0/0"]


def test_labelled_interfaces_and_unlabelled_device_words(net: NetworkMap) -> None:
    e = extract_entities('node_network_up{device="ens3", instance="h1"} == 0; device core-sw9 is gone', net)
    assert e.interfaces == (InterfaceRef("ens3", "h1"),)  # the one device named is where it lives
    assert e.devices == ("h1",)


def test_prefix_is_normalised_and_not_an_address(net: NetworkMap) -> None:
    e = extract_entities("route to 10.3.0.5/24 withdrawn on r1", net)
    assert e.prefixes == ("10.3.0.0/24",) and e.addresses == ()
    assert Topic.ROUTING in e.topics


def test_inventory_only_map_knows_names_and_capabilities(net: NetworkMap) -> None:
    inventory = Inventory.load(INVENTORY, lab_dir="/run/netops-lab", lab_prefix="nl", lab_ssh_port="2222")
    bare = NetworkMap.from_inventory(inventory.for_tenant("demo"))
    assert bare.routers == ("r1", "r2", "r3", "r2-ssh") and bare.probes == ("r1", "r2", "r3", "h1")
    e = extract_entities("r2-ssh: BGP peer 10.0.23.2 down", bare)
    assert e.named == ("r2-ssh",)
    assert e.peers == (PeerRef("r2-ssh", "10.0.23.2", ""),)  # guessed from the words, the map knows no sessions
