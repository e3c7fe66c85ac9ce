"""Topic scope: keep a tenant's assistant on network operations.

A message is in scope when it mentions network-operations vocabulary (protocols, devices, commands,
incidents, monitoring) or one of the tenant's own `extra_terms`; very short messages (greetings,
"thanks") always pass. Out-of-scope input is flagged (reported) or blocked, per the tenant's policy.

Left out: semantic topic models; a vocabulary is cheap, explainable and easy to extend per tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from guardrails.errors import Blocked, PolicyError
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Span, Verdict

__all__ = ["NETWORK_TERMS", "TopicScanner"]

_TERMS = """
network router routers switch switches firewall firewalls interface interfaces port ports uplink uplinks link
links bgp ospf isis is-is eigrp rip mpls ldp rsvp vxlan evpn vlan vlans vrf vrfs stp lacp lldp cdp hsrp vrrp bfd
pim igmp multicast unicast ip ipv4 ipv6 subnet prefix prefixes route routes routing route-map acl acls nat pat
qos dscp mtu tcp udp icmp ping traceroute dns dhcp ntp snmp syslog netflow sflow span tacacs radius aaa ssh
telnet vpn ipsec ike wireguard tunnel gre peer peers peering neighbor neighbors as asn transit ixp cdn latency
jitter packet packets loss throughput bandwidth congestion outage incident alarm alarms alert alerts monitoring
nms grafana prometheus alertmanager runbook runbooks ticket noc on-call maintenance change rollback config
configuration configs cli cisco juniper junos arista eos nx-os nxos ios ios-xe ios-xr asa fortigate fortinet
palo frr sonic netbox nautobot ansible netmiko napalm nornir device devices chassis linecard line card
transceiver sfp optics fiber circuit carrier wan lan dc datacenter spine leaf core edge pe ce cpe loopback mac
arp arp-cache cpu memory crc errors flapping flap dns-resolution resolver certificate tls load-balancer lb
server servers host hosts node nodes cluster kubernetes etcd disk filesystem upgrade reload reboot firmware
software image commit kubelet pod pods latency sla
"""
NETWORK_TERMS = frozenset(_TERMS.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")


class TopicScanner:
    """Flags or blocks input with no network-operations term in it."""

    name = "topic"
    bounded = True
    stages = frozenset({Stage.INPUT})

    def __init__(self, *, extra_terms: Iterable[str] = (), action: str = "flag", min_words: int = 6) -> None:
        if action not in ("flag", "block"):
            raise PolicyError("topic: action must be 'flag' or 'block'")
        self.terms = NETWORK_TERMS | {t.lower() for t in extra_terms}
        self.action = action
        self.min_words = min_words

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        words = _WORD.findall(text.lower())
        if len(words) < self.min_words or any(w in self.terms for w in words):
            return Verdict.allow(self.name, text)
        reason = "off-topic: the assistant is scoped to network operations"
        if self.action == "block":
            raise Blocked(reason, scanner=self.name)
        return Verdict.flag(self.name, text=text, evidence=(Span(0, len(text), "off-topic"),), reason=reason)


@register("topic")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("topic", options, {"extra_terms", "action", "min_words"})
    terms = options.get("extra_terms", [])
    if not isinstance(terms, list):
        raise ValueError("extra_terms must be a list of strings")
    return TopicScanner(
        extra_terms=[str(t) for t in terms],
        action=str(options.get("action", "flag")),
        min_words=int(str(options.get("min_words", 6))),
    )
