"""The network-secret rules: one regular expression per config syntax, each with a `secret` group.

Written from public vendor configuration syntax (Cisco IOS/IOS-XE/NX-OS/IOS-XR/ASA, Juniper Junos,
Arista EOS, FortiOS, WireGuard, strongSwan) and common API-token formats. Only the `secret` group is
replaced, so the surrounding config stays readable. `RULES` is these, then the netconan/RANCID
table (`guardrails.vendor_rules`), then API-token formats. Measured by `netops bench guardrails` on
`evals/data/guardrails/secret_lines.tsv` and on the independent set in `evals/data/guardrails/independent/`.

Left out: entropy-only detection of unlabelled tokens (false hits on interface names, hashes and serials).
"""

from __future__ import annotations

from guardrails.rulebase import KEYWORD_VALUE, NOT_SENTENCE, TYPES, SecretRule, rule
from guardrails.vendor_rules import VENDOR_RULES

__all__ = ["RULES", "SecretRule"]

_TOKEN = r"(?:\"[^\"\n]+\"|[^\s\";{}]+)"  # noqa: S105 - a regex, not a password
_V = rf"(?P<secret>{_TOKEN})"  # a secret value: one token, or a quoted string
_ENC = TYPES  # type / encoding words before a value
_KV = KEYWORD_VALUE + NOT_SENTENCE
_rule = rule


def _not(*words: str) -> str:
    return "(?!(?:" + "|".join(words) + r")\b)"


_PEM = r"(?P<secret>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z0-9 ]*PRIVATE KEY-----)"

_DEVICE_RULES: tuple[SecretRule, ...] = (
    _rule("private-key", _PEM, case=True),
    # SNMP v1/v2c communities
    _rule("snmp-community", rf"\bsnmp-server\s+community\s+{_V}"),
    _rule("snmp-community", rf"\bsnmp-server\s+host\b[^\n]*?\bcommunity\s+{_V}"),
    _rule(
        "snmp-community",
        r"\bsnmp-server\s+host\s+(?![^\n]*\bcommunity\b)\S+\s+(?:(?:traps?|informs?)\s+)?(?:version\s+(?:1|2c)\s+)?(?:encrypted\s+)?"
        rf"(?P<secret>{_not('version', 'traps?', 'informs?', 'community', 'vrf', 'udp-port', 'poll', 'encrypted')}"
        rf"(?!\d+\.\d+\.\d+\.\d+\b){_TOKEN})",
    ),
    _rule("snmp-community", rf"\bcommunity\s+{_V}(?=\s+(?:authorization|clients|view)\b|\s*\{{)"),
    # SNMPv3 auth / priv keys
    _rule("snmp-v3-key", rf"\bauth\s+(?:md5|sha\d*(?:-\d+)?)\s+{_ENC}{_V}"),
    _rule("snmp-v3-key", rf"\bauth\s+\S+\s+\S+\s+priv\s+(?:(?:des|3des|aes(?:\s*\d+)?)\s+)?{_V}"),
    _rule("snmp-v3-key", rf"\b(?:authentication-password|privacy-password)\s+{_V}"),
    # local accounts and enable
    _rule("enable-secret", rf"\benable\s+(?:secret|password)\s+(?:level\s+\d+\s+)?{_ENC}{_V}"),
    _rule("password", rf"\busername\s+\S+\s+(?:[^\n]*?\s)?(?:secret|password)\s+{_ENC}{_V}"),
    _rule("password", rf"\b(?:encrypted-password|simple-password|plain-text-password-value)\s+{_V}"),
    _rule("password", rf"\baaa\s+root\s+secret\s+{_ENC}{_V}"),
    _rule("password", rf"\bkey\s+config-key\s+(?:password-encrypt|1)\s+{_V}"),  # IOS master key
    # key chains, TACACS+/RADIUS
    _rule("key-string", rf"\bkey-string\s+{_ENC}{_KV}{_V}"),
    _rule(
        "tacacs-radius-key",
        rf"\b(?:tacacs-server|radius-server|tacplus-server|server-private)\b[^\n]*?\b(?:key|secret)\s+(?:\d\s+)?{_V}",
    ),
    _rule(
        "tacacs-radius-key",
        rf"^\s*key\s+(?![^\n]*\s:\s){_ENC}(?P<secret>{_not('chain', 'config-key')}(?!\d+\s*$){_TOKEN})",
    ),
    # routing-protocol authentication
    _rule("bgp-password", rf"\bneighbor\s+\S+\s+password\s+{_ENC}{_V}"),
    _rule("ospf-key", rf"\bmessage-digest-key\s+\d+\s+(?:md5|sha\d*)\s+{_ENC}{_V}"),
    _rule("auth-key", rf"\bauthentication-key\s+(?!\d+\s+(?:md5|sha|type|hmac|cmac)){_ENC}{_V}"),
    _rule("auth-key", rf"\bauthentication\s+key\s+(?:\d\s+)?{_V}"),
    _rule("auth-key", rf"\bmd5\s+\d+\s+key\s+{_V}"),
    _rule(
        "isis-password",
        rf"\b(?:isis\s+password|area-password|domain-password|lsp-password|hello-password)\s+"
        rf"(?:(?:hmac-md5|text|clear|encrypted)\s+)*{_V}",
    ),
    _rule("hsrp-key", rf"\bstandby\s+\d+\s+authentication\s+(?:text\s+)?(?P<secret>{_not('md5')}{_TOKEN})"),
    _rule(
        "vrrp-key",
        rf"\bvrrp\s+\d+\s+(?:peer-)?auth(?:entication)?\s+(?:text\s+)?(?P<secret>{_not('md5', 'ietf-md5')}{_TOKEN})",
    ),
    _rule(
        "ntp-key",
        rf"\bauthentication-key\s+\d+\s+(?:md5|sha1|sha256|hmac-sha\S*|cmac-aes\S*)\s+{_ENC}{_V}",
    ),
    _rule("ntp-key", rf"\bauthentication-key\s+\d+\s+type\s+\S+\s+value\s+{_V}"),
    # IKE / IPsec / wireless pre-shared keys
    _rule("ike-psk", rf"\bcrypto\s+isakmp\s+key\s+(?:\d\s+)?{_V}"),
    _rule(
        "ike-psk",
        r"\bpre-shared-key\s+(?:(?:local|remote)\s+)?(?:(?:ascii-text|hexadecimal|hex|\d)\s+)?"
        rf"(?P<secret>{_not('address', 'hostname')}{_TOKEN})",
    ),
    _rule("ike-psk", rf"\bpre-shared-key\s+(?:address|hostname)\s+\S+(?:\s+\S+)?\s+key\s+(?:\d\s+)?{_V}"),
    _rule("ike-psk", rf":\s*PSK\s+{_V}", case=True),
    _rule("ike-psk", rf"\bwpa-psk\s+(?:ascii|hex)\s+(?:\d\s+)?{_V}"),
    # FortiOS `set <secret-field> [ENC] value`
    _rule(
        "fortinet-secret",
        r"\bset\s+(?:password|passwd|secret|psksecret|key|key-string|auth-pwd|priv-pwd|passphrase|md5-key|"
        rf"private-key|ppk-secret)\s+(?:\d+\s+)?(?:ENC\s+)?{_V}",
    ),
    # generic "password|secret <type> value" lines: after the specific rules, which win on equal spans
    _rule("password", rf"^\s*(?:password|secret|passwd)\s+{_ENC}{_KV}{_V}"),
    _rule("password", rf"(?<![\w-])(?:password|secret)\s+(?:\d{{1,2}}|encrypted|sha512)\s+{_V}"),
    # Juniper $9$ and crypt(3) hashes wherever they appear
    _rule("juniper-secret", r"(?P<secret>\$9\$[^\s\";<]+)", case=True),
    _rule("crypt-hash", r"(?P<secret>\$(?:1|5|6|8|14)\$[^\s\";<]+)", case=True),
    _rule(
        "wireguard-key",
        r"\b(?:PrivateKey|PresharedKey|private-key|preshared-key)\s*=\s*(?P<secret>[A-Za-z0-9+/]{42,43}=)",
    ),
)

_TOKEN_RULES: tuple[SecretRule, ...] = (
    _rule("api-token", rf"\bAuthorization:\s*(?:Token|Bearer|Basic)\s+{_V}"),
    _rule(
        "api-token",
        rf"\b[\w.-]*(?:token(?!s\b)|password|passwd|secret|api[_-]?key|access[_-]?key)[\w-]*\"?\s*[:=]\s*{_V}",
    ),
    _rule("api-token", r"(?P<secret>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)", case=True),
    _rule("api-token", r"(?P<secret>\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_\w{30,})", case=True),
    _rule("api-token", r"(?P<secret>\bglpat-[A-Za-z0-9_\-]{20,})", case=True),
    _rule("api-token", r"(?P<secret>\bxox[abprs]-[A-Za-z0-9\-]{10,})", case=True),
    _rule("api-token", r"(?P<secret>\bAIza[0-9A-Za-z_\-]{35})", case=True),
    _rule("api-token", r"(?P<secret>\bsk-[A-Za-z0-9_\-]{20,})", case=True),
    _rule("api-token", r"(?P<secret>\bnbt_[A-Za-z0-9]+\.[A-Za-z0-9]+)", case=True),
    _rule("api-token", r"(?P<secret>\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,})", case=True),
)

RULES: tuple[SecretRule, ...] = _DEVICE_RULES + VENDOR_RULES + _TOKEN_RULES
