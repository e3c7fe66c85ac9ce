"""Network-secret rules ported from netconan's password and community tables (themselves RANCID's).

Source: netconan 0.15.0 (https://github.com/intentionet/netconan), files `netconan/default_pwd_regexes.py`
and `netconan/sensitive_item_removal.py` (`aws_regexes`, `extra_password_regexes`).
netconan: Copyright 2018 Intentionet, Apache License 2.0. Its password and community regexes are
derived from RANCID: Copyright (c) 1997-2017 by Henry Kilmer and John Heasley, BSD-style licence
(conditions and disclaimer reproduced in `guardrails/data/NOTICE`). Changed here: each regex is
rewritten to one named group `secret` (the value only, so the keyword stays), type words such as
`7`, `hex` or `ENC` are kept out of the value, and the rules that made netconan drop a whole line
now name the value instead. netconan's reserved-word list is not used: it holds common community
and password values (`private`, `secret`, `cisco`), so skipping them would leak those.

The rules run after `guardrails.secret_rules`' own ones; `guardrails.secrets` keeps the earliest,
then longest, match, and skips values that are documentation syntax or prose.
"""

from __future__ import annotations

from guardrails.rulebase import KEYWORD_VALUE, NOT_SENTENCE, TYPES, SecretRule, rule

__all__ = ["VENDOR_RULES"]

_TOKEN = r"(?:\"[^\"\n]+\"|'[^'\n]+'|[^\s\"';{}]+)"  # noqa: S105 - a regex, not a password
_V = rf"(?P<secret>{_TOKEN})"
# netconan's `set community` exceptions: well-known communities, AS:NN pairs, `(list)` and `x additive`
_WELL_KNOWN = (
    r"(?!\(|['\"]?(?:\d+|\S+\s+additive|[\w$]+:[\w$]+|gshut|internet|local-AS|no-advertise|no-export|none)"
    r"['\"]?(?:[\s\"',]|$))"
)
_T = TYPES
_KV = KEYWORD_VALUE + NOT_SENTENCE


VENDOR_RULES: tuple[SecretRule, ...] = (
    # -- AWS VPN customer gateway configuration (netconan `aws_regexes`)
    rule("ike-psk", r"<pre_shared_key>(?P<secret>[^<\s]+)</pre_shared_key>"),
    rule("ike-psk", r"\"PreSharedKey\"\s*:\s*\"(?P<secret>[^\"\s]+)\""),
    # -- RANCID / netconan password lines
    rule("fortinet-secret", rf"\bset\s+(?:password|pksecret)\s+(?:ENC\s+)?{_V}"),
    rule("password", rf"(?<![\w-])(?:password|passwd)\s+(?:level\s+\d+\s+)?{_T}{_KV}{_V}"),
    rule("password", rf"\busername\s+\S+(?:\s+\S+)*?\s+(?:password|secret)\s+{_T}{_KV}{_V}"),
    rule("enable-secret", rf"^[\s\"'-]*(?:no\s+)?(?:enable\s+)?secret\s+{_T}{_KV}{_V}"),  # mid-line: prose
    rule("password", rf"\bip\s+ftp\s+password\s+(?:\d\s+)?{_V}"),
    rule("auth-key", rf"\bauthentication\s+text\s+{_V}"),
    rule("isis-password", rf"\bisis\s+password\s+{_V}"),
    rule(
        "hsrp-key",
        rf"\bstandby(?:\s+\d+)?\s+authentication\s+(?:text\s+|md5\s+key-string\s+(?:\d\s+)?)?"
        rf"(?!md5\b|text\b){_V}",
    ),
    rule("password", rf"\bl2tp\s+tunnel(?:\s+\S+)?\s+password\s+(?:\d\s+)?{_V}"),
    rule("password", rf"\bdigest\s+secret\s+(?:\d\s+)?{_V}"),
    rule("ppp-credential", rf"\bppp\s+.*?\bhostname\s+{_V}"),
    rule("ppp-credential", rf"\bppp\s+.*?\bpassword\s+(?:\d\s+)?{_V}"),
    rule(
        "ike-psk",
        rf"\bpre-shared-key\s+(?:address(?:\s+ipv6)?|hostname)\s+\S+(?:\s+\S+)?\s+key\s+(?:\d\s+)?{_V}",
    ),
    rule("ike-psk", rf"\b(?:ikev2\s+)?(?:local|remote)-authentication\s+pre-shared-key\s+(?:\d\s+)?{_V}"),
    rule(
        "ike-psk",
        r"\bpre-shared-key\s+(?:(?:remote|local)\s+)?(?:(?:hex|hexadecimal|ascii-text|\d)\s+)?"
        rf"(?!address\b|hostname\b){_V}",
    ),
    rule("tacacs-radius-key", rf"\b(?:tacacs|radius)-server\s+(?:\S+\s+)*?key\s+(?:\d\s+)?{_V}"),
    rule("key", rf"(?<![\w-])key\s+(?:hexadecimal\s+|hex\s+|ascii-text\s+)(?:\d\s+)?{_V}"),
    rule("ntp-key", rf"\bntp\s+authentication-keys?\s+\d+\s+(?:md5|sha\S*)\s+{_T}{_V}"),
    rule("password", rf"\bsyscon\s+(?:password|address\s+\S+)\s+{_V}"),
    rule("snmp-v3-key", rf"\bsnmp-server\s+user\s+.*?\bauth\s+(?:md5|sha\S*)\s+{_T}{_V}"),
    rule(
        "snmp-v3-key",
        rf"\bsnmp-server\s+user\s+.*?\bpriv\s+(?:(?:3des|des|aes(?:-?\d+)?(?:\s+\d+)?)\s+)?{_T}{_V}",
    ),
    rule("snmp-v3-key", rf"\bsnmp-server\s+user\s+.*?\bv3\s+(?:localized\s+\S+\s+)?(?:md5|sha\S*)\s+{_V}"),
    rule("snmp-v3-key", rf"\bv3\s+localized\s+{_V}"),
    rule("ike-psk", rf"\b(?:crypto\s+)?isakmp\s+key\s+(?:\d\s+)?{_V}"),
    rule("ipsec-session-key", rf"\bset\s+session-key\s+(?:in|out)bound\s+ah\s+\d+\s+{_V}"),
    rule("ipsec-session-key", rf"\bset\s+session-key\s+(?:in|out)bound\s+esp\s+\d+\s+cipher\s+{_V}"),
    rule(
        "ipsec-session-key",
        rf"\bset\s+session-key\s+(?:in|out)bound\s+esp\s+\d+\s+(?:cipher\s+\S+\s+)?authenticator\s+{_V}",
    ),
    rule(
        "auth-key",
        rf"\b(?:hello-)?authentication-key\s+(?!\d+\s+(?:md5|sha|type|hmac|cmac)){_T}{_KV}{_V}",
    ),
    # RANCID lines netconan only dropped whole: the value named
    rule("password", rf"\bcable\s+shared-secret\s+(?:\d\s+)?{_V}"),
    rule("ike-psk", rf"\bwpa-psk\s+(?:ascii|hex)\s+(?:\d\s+)?{_V}"),
    rule("password", rf"\bldap-login-password\s+{_V}"),
    rule("ike-psk", rf"\bfailover\s+key\s+(?:(?:ascii-text|hex|hexadecimal)\s+)?{_V}"),
    rule("password", rf"\bvpdn\s+username\s+\S+\s+password\s+(?:\d\s+)?{_V}"),
    rule("password", rf"\bwlccp\s+\S+\s+username\s+\S+(?:\s.*?)?\s+password\s+(?:\d\s+)?{_V}"),
    rule("auth-key", rf"\bmd5\s+\d+\s+key\s+{_V}"),
    rule("password", rf"\b(?:simple-password|encrypted-password)\s+{_V}"),
    rule("key", rf"\b(?:pre-shared-)?key\s+(?:ascii-text|hexadecimal)\s+{_V}"),
    rule("key", rf"\bkey-hash\s+sha256\s+{_V}"),
    rule("key", r"(?<![\w-])key\s+\"(?P<secret>[^\"\n]+)\""),
    # -- RANCID / netconan community lines
    rule("snmp-community", rf"\bsnmp-server\s+(?:\S+\s+)*?community\s+(?:[08]\s+)?{_V}"),
    rule(
        "snmp-community",
        r"\bsnmp-server\s+host\s+(?![^\n]*\bcommunity\b)\S+"
        r"(?:\s+(?:informs?|traps?|version\s+(?:1|2c|3\s+\S+)|vrf\s+\S+|encrypted))*\s+"
        rf"(?!(?:informs?|traps?|version|vrf|community|udp-port|poll|encrypted)\b){_V}",
    ),
    rule(
        "snmp-community",
        r"^[\s\"'-]*(?:(?:set|delete)\s+(?:service\s+)?)?snmp(?:\s+\S+)*?\s+(?:community|trap-group)\s+"
        rf"(?:(?:read-only|read-write|read-write-all)\s+)?{_V}",
        case=True,  # Junos / VyOS / CatOS / ScreenOS syntax is lower case; prose ("SNMP community") is not
    ),
    rule("snmp-community", rf"\bset\s+community\s+{_WELL_KNOWN}{_V}"),
    rule("snmp-community", r"\bsnmp-server\s+(?:mib\s+)?community-map\s+(?P<secret>[^\s:]+)"),
    rule("snmp-community", rf"\bsnmp-community\s+{_V}"),
    # -- beyond netconan, same style: HP/H3C Comware, VyOS, NETCONF XML
    rule("snmp-community", rf"\bsnmp-agent\s+community\s+(?:read|write)\s+(?:cipher\s+|simple\s+)?{_V}"),
    rule("password", rf"\bplaintext-(?:password|key)\s+{_V}"),
    rule("auth-key", rf"\bmd5-key\s+{_T}{_V}"),
    rule("snmp-community", r"<(?:\w+:)?community>\s*<(?:\w+:)?name>(?P<secret>[^<\s]+)</"),
)
