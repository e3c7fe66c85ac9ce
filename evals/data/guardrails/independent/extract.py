"""Build the independent network-secret evaluation set from vendor configs in public PyPI sdists.

Run from the repository root (needs only the standard library and `pip` for `--fetch`):

    python evals/data/guardrails/independent/extract.py --fetch var/independent-sdists

Reads the sdists named in `SDISTS` straight from their tarballs (nothing is unpacked), collects
config lines (fixture files, CLI lines inside test and module-example strings, AWS VPN customer
gateway configurations inside recorded API answers), proposes labels with `propose()` (a broad
keyword table written for labelling, independent of `guardrails/`), applies the hand review in
`review.tsv`, splits by source file into dev / test, and writes `lines.jsonl` beside this file.

Every candidate line (one that names a credential keyword) was read by hand; `review.tsv` holds the
corrections. The scanner's failures on the test split were never looked at while tuning.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDISTS = {
    "ansible": "ansible==9.13.0",
    "ciscoconfparse2": "ciscoconfparse2==0.9.18",
    "anyconfig-fortios-backend": "anyconfig-fortios-backend==0.3.0",
}
BENIGN_PER_FILE = 100
_COLLECTIONS = {
    "cisco/ios": "cisco-ios",
    "cisco/iosxr": "cisco-iosxr",
    "cisco/nxos": "cisco-nxos",
    "cisco/asa": "cisco-asa",
    "arista/eos": "arista-eos",
    "junipernetworks/junos": "juniper-junos",
    "vyos/vyos": "vyos",
    "community/ciscosmb": "cisco-smb",
    "community/network": "multi-vendor",
    "dellemc/enterprise_sonic": "dell-sonic",
    "frr/frr": "frr",
}
_CCP_VENDORS = {
    "ios": "cisco-ios",
    "iosxr": "cisco-iosxr",
    "nxos": "cisco-nxos",
    "asa": "cisco-asa",
    "junos": "juniper-junos",
    "f5": "f5",
    "catos": "cisco-catos",
    "conf": "hp-procurve",
}
_YAML_KEY = re.compile(r"^\s*-?\s*[\w.\-]+:(\s|$)")
_UNWRAP = re.compile(r"^\s*(?:#\s?)?(?:-\s+)?(?:(?P<q>[\"'])(?P<in>.*)(?P=q),?$)?")  # comment/list marks, quotes
_TEMPLATE = re.compile(r"\{[\w\d ]*\}|%s|\\S|\(\?|\{\{")  # format strings, regexes, Jinja: not config
_JSON_KEY = re.compile(r"^\s*[\"'][\w.\-]+[\"']\s*:")  # dict items in tests: parsed data, not config
_MASKED = re.compile(r"^(?:\.{3,}|<remove>|x{6,}|\*{3,}|VALUE_SPECIFIED_IN_NO_LOG_PARAMETER|<sensitive>)$", re.I)


def fetch(dest: Path) -> None:
    """`pip download --no-deps --no-binary :all:` each sdist into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for spec in SDISTS.values():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*cmd, spec, "-d", str(dest)], check=True)


def _tarball(folder: Path, name: str) -> Path:
    stem = SDISTS[name].replace("==", "-")
    hits = sorted(folder.glob(f"{stem.replace('-', '[-_]')}.tar.gz"))
    if not hits:
        raise SystemExit(f"missing {stem}.tar.gz in {folder} (use --fetch)")
    return hits[0]


def _py_lines(source: str, *, examples_only: bool) -> Iterator[tuple[int, str]]:
    """CLI-looking lines inside the string constants of a Python file (test strings, module EXAMPLES)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    value: ast.AST | None
    for node in ast.walk(tree):
        if examples_only:
            is_examples = isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "EXAMPLES" for t in node.targets)
            value = node.value if is_examples and isinstance(node, ast.Assign) else None
        else:
            value = node
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for i, line in enumerate(value.value.splitlines()):
                text = _UNWRAP.sub(lambda m: m.group("in") or "", line, count=1).rstrip()
                if _cli_like(text):
                    yield value.lineno + i, text


def _cli_like(text: str) -> bool:
    """Words with spaces, not YAML / dict items, format strings or regexes."""
    plain = not (_YAML_KEY.match(text) or _JSON_KEY.match(text) or _TEMPLATE.search(text))
    return " " in text.strip() and plain and len(text) < 300


def _aws_lines(source: str) -> Iterator[tuple[int, str]]:
    """Lines of the customer gateway configuration (XML) inside a recorded DescribeVpnConnections answer."""
    data = json.loads(source)
    for conn in data.get("data", {}).get("VpnConnections", []):
        for i, line in enumerate(str(conn.get("CustomerGatewayConfiguration", "")).splitlines()):
            if line.strip():
                yield i + 1, line.rstrip()


def _members(path: Path) -> Iterator[tuple[str, str]]:
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.size < 2_000_000:
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read().decode("utf-8", errors="replace")


def _ansible(path: Path) -> Iterator[tuple[str, str, int, str]]:
    for name, text in _members(path):
        parts = name.split("/")
        coll = "/".join(parts[2:4])
        if coll == "community/aws" and "placebo_recordings/ec2_vpc_vpn/" in name and name.endswith(".json"):
            for n, line in _aws_lines(text):
                yield "aws-vpn", name, n, line
            continue
        vendor = _COLLECTIONS.get(coll)
        if vendor is None or ("/tests/unit/" not in name and "/plugins/modules/" not in name):
            continue
        if "/fixtures/" in name and not name.endswith((".py", ".json", ".xml", ".yaml", ".yml")):
            for n, line in enumerate(text.splitlines(), 1):
                yield vendor, name, n, line.rstrip()
        elif name.endswith(".py"):
            for n, line in _py_lines(text, examples_only="/plugins/modules/" in name):
                yield vendor, name, n, line


def _ccp(path: Path) -> Iterator[tuple[str, str, int, str]]:
    for name, text in _members(path):
        if "/tests/fixtures/configs/" in name:
            vendor = _CCP_VENDORS.get(name.rsplit(".", 1)[-1], "other")
            for n, line in enumerate(text.splitlines(), 1):
                yield vendor, name, n, line.rstrip()


def _fortios(path: Path) -> Iterator[tuple[str, str, int, str]]:
    for name, text in _members(path):
        if "/tests/res/" in name and name.endswith(".txt"):
            for n, line in enumerate(text.splitlines(), 1):
                yield "fortinet", name, n, line.rstrip()


# -- label proposals: a broad keyword table for the hand review, not the scanner's rules ---------------
_VAL = r"(?P<v>\"[^\"]+\"|'[^']+'|[^\s;\"'<>{}]+)"
_T = r"(?:(?:\d{1,2}|encrypted|clear|sha512|level \d+|ascii-text|hexadecimal|hex|ENC) )*"
_PROPOSE = [
    re.compile(p, re.I)
    for p in (
        r"<pre_shared_key>(?P<v>[^<]+)</pre_shared_key>",
        rf"\bsnmp-server (?:\S+ )*?community {_T}{_VAL}",
        rf"\bsnmp(?:-server)? (?:context \S+ )?community {_VAL}",
        rf"\b(?:read|write|trap)-community {_VAL}",
        r"\bsnmp-server host (?!.*community)\S+ "
        rf"(?:(?:informs?|traps?|version (?:1|2c|3 \S+)|vrf \S+|encrypted) )*{_VAL}",
        rf"\bppp .*?\bhostname {_VAL}",
        r"(?P<v>\$9\$[^\s;\"'<]+)",
        rf"^\s*community {_VAL} {{",
        rf"\bsnmp-server user \S+ .*?\bauth (?:md5|sha\S*) {_VAL}",
        rf"\bsnmp-server user \S+ .*?\bv3 (?:localized \S+ )?(?:md5|sha\S*) {_VAL}",
        rf"\bsnmp-server user \S+ .*?\bpriv (?:(?:3des|des|aes(?:-?\d+)?(?: \d+)?) )?{_VAL}",
        rf"\bv3 localized {_VAL}",
        rf"(?<![\w-])(?:encrypted-password|simple-password|secret|password|passwd) {_T}{_VAL}",
        rf"\bkey-string (?:password )?{_T}{_VAL}",
        rf"(?<![\w-])authentication-key (?!\d+ (?:md5|sha|type))(?:\d+ )?{_T}{_VAL}",
        rf"\bauthentication-key \d+ (?:md5|sha\S*) {_T}{_VAL}",
        rf"\bmessage-digest-key \d+ (?:md5|sha\S*) {_T}{_VAL}",
        rf"\bpre-shared-key (?:(?:local|remote|address \S+|hostname \S+) )?(?:key )?{_T}{_VAL}",
        rf"\b(?:isakmp|tacacs-server|radius-server|tacacs|radius) (?:\S+ )*?key {_T}{_VAL}",
        rf"^\s*(?:server-private \S+ )?key {_T}{_VAL}",
        rf"\bauthentication (?:text|plaintext-password|md5-key \d+) {_VAL}",
        rf"\b(?:plaintext-key|md5-key|(?:hello|lsp)-password hmac-md5(?: encrypted| clear)?) {_VAL}",
        rf"\bsnmp-agent community (?:read|write) (?:cipher )?{_VAL}",
        rf"\bcommunity-map {_VAL}",
        rf"\bntp authentication-keys \d+ md5 {_VAL}",
        rf"\bpassword cipher {_VAL}",
        r"<(?:key|encrypted-password|nc:name)>(?P<v>\$[^<]+)</",
        r"<nc:community><nc:name>(?P<v>[^<]+)</",
        rf"\bv3 auth (?:md5|sha\S*) encrypted {_VAL}",
        rf"\bpriv (?:aes \d+|3des|des) encrypted {_VAL}",
        rf"\bstandby (?:\d+ )?authentication (?:text |md5 key-string {_T})?{_VAL}",
    )
]
_KEYWORDS = re.compile(
    r"password|passwd|secret|community|key-string|pre-shared|pre_shared|psk|authentication-key|\bkey\b|auth |"
    r"snmp-server host|\bppp |session-key|key-hash|isakmp|plaintext|\$9\$|md5-key",
    re.I,
)
_NOT_VALUE = re.compile(
    r"^(?:\d{1,2}|md5|sha\S*|encrypted|clear|key-chain|inheritance-disable|group|view|ro|rw|row|cipher|"
    r"informs?|traps?|version|vrf|poll|source-interface|filter-vrf|use-vrf)$",
    re.I,
)


def propose(line: str) -> list[str]:
    """Candidate secret values of a line (the hand review in `review.tsv` has the last word)."""
    found: dict[int, str] = {}  # by position: a value used twice as a secret is listed twice
    for pattern in _PROPOSE:
        for m in pattern.finditer(line):
            value = m.group("v").strip("\"'")
            inside = any(s <= m.start("v") < s + len(v) for s, v in found.items())
            if value and not _NOT_VALUE.match(value) and not inside:
                found[m.start("v")] = value
    return [found[k] for k in sorted(found)]


def _review() -> dict[str, list[str] | None]:
    """`line<TAB>value|value` (the line's secrets), `line<TAB>-` (no secret) or `line<TAB>masked` (excluded)."""
    out: dict[str, list[str] | None] = {}
    path = HERE / "review.tsv"
    for raw in path.read_text().splitlines() if path.is_file() else []:
        if raw and not raw.startswith("#"):
            line, verdict = raw.rsplit("\t", 1)
            line = line.replace("\\t", "\t")
            out[line] = None if verdict == "masked" else [] if verdict == "-" else verdict.split("|")
    return out


def _split(source: str) -> str:
    return "test" if int(hashlib.sha256(source.encode()).hexdigest(), 16) % 2 else "dev"


def build(folder: Path) -> list[dict[str, object]]:
    """Every distinct line, first occurrence wins, labelled and assigned to its source file's split."""
    review = _review()
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    readers = (("ansible", _ansible), ("ciscoconfparse2", _ccp), ("anyconfig-fortios-backend", _fortios))
    for pkg, reader in readers:
        tarball = _tarball(folder, pkg)
        for vendor, name, n, line in reader(tarball):
            key = line.strip()
            if len(key) < 3 or key in seen:
                continue
            seen.add(key)
            labels = review.get(line, review.get(key, propose(line) if _KEYWORDS.search(line) else []))
            if labels is None or any(_MASKED.match(v) for v in labels):
                continue  # a value already masked in the source: neither a secret nor benign
            source = f"{tarball.name}:{name.split('/', 1)[1].removeprefix('ansible_collections/')}"
            rows.append({"vendor": vendor, "source": source, "line": n, "split": _split(source),
                         "text": line, "secrets": labels})  # fmt: skip
    return rows


def _cap_benign(rows: list[dict[str, object]], per_file: int = BENIGN_PER_FILE) -> list[dict[str, object]]:
    """Keep every secret line and at most `per_file` benign lines per source file (evenly spaced)."""
    benign: dict[object, list[int]] = {}
    for i, row in enumerate(rows):
        if not row["secrets"]:
            benign.setdefault(row["source"], []).append(i)
    keep = {i for idx in benign.values() for i in idx[:: max(1, -(-len(idx) // per_file))]}
    return [row for i, row in enumerate(rows) if row["secrets"] or i in keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdists", type=Path, help="folder holding the sdists")
    parser.add_argument("--fetch", action="store_true", help="pip download the sdists into the folder first")
    parser.add_argument("--candidates", action="store_true", help="print keyword lines with proposals (review aid)")
    args = parser.parse_args()
    if args.fetch:
        fetch(args.sdists)
    rows = _cap_benign(build(args.sdists))
    if args.candidates:
        for row in rows:
            if _KEYWORDS.search(str(row["text"])):
                secrets = row["secrets"]
                print(f"{row['text']}\t{'|'.join(secrets) if isinstance(secrets, list) and secrets else '-'}")
        return
    with (HERE / "lines.jsonl").open("w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    secrets = sum(1 for r in rows if r["secrets"])
    print(f"wrote {len(rows)} lines ({secrets} with secrets) to {HERE / 'lines.jsonl'}")


if __name__ == "__main__":
    main()
