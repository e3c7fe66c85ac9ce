"""The ported vendor rule base (netconan/RANCID) and the independent evaluation set.

Cases are the syntaxes that leaked in the outside review of issue #14; each must come out with the keyword
and the rest of the line unchanged and only the value replaced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evals.guardrails_data import INDEPENDENT_DIR, SecretLine, load_independent
from evals.guardrails_quality import independent_redaction, redaction_quality
from guardrails import Action, ScanContext, SecretsScanner, Stage
from guardrails.rulebase import rule
from guardrails.secret_rules import RULES

LEAKED = [
    (" standby 1 authentication text hsrpPw1", "hsrpPw1"),
    (" vrrp 1 authentication text vrrpPw1", "vrrpPw1"),
    (" standby authentication md5 key-string Plain1", "Plain1"),
    ("ip ftp password 7 0822455D0A16", "0822455D0A16"),
    (" l2tp tunnel lac1 password l2tpPw", "l2tpPw"),
    (" ppp chap password 7 0822455D0A16", "0822455D0A16"),
    (" ppp chap hostname chapHost1", "chapHost1"),
    (" digest secret digestPw", "digestPw"),
    ("username admin key-hash sha256 d1f4e0a1b2c3", "d1f4e0a1b2c3"),
    (" set session-key outbound ah 256 abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    ("snmp-server host 10.0.0.1 version 3 noauth v3user2", "v3user2"),
    ("snmp-server host 10.0.0.1 informs version 3 priv v3user3", "v3user3"),
    ("snmp-server mib community-map commMap1 context ctx1", "commMap1"),
    (" rf-switch snmp-community rfComm1", "rfComm1"),
    ("    set pksecret ENC 7Gx9+abc==", "7Gx9+abc=="),
    ("    set pksecret fortiPsk1", "fortiPsk1"),
    ('set system license keys key "JUNOS123456 aeaqec agaia3"', "JUNOS123456 aeaqec agaia3"),
    ("set snmp trap-group TRAPGRP1 targets 192.0.2.1", "TRAPGRP1"),
    ("      <pre_shared_key>abcdefghijklmnopqrstuvwxyzABCDEF</pre_shared_key>", "abcdefghijklmnopqrstuvwxyzABCDEF"),
    ('  "PreSharedKey": "abcdefghijklmnopqrstuvwxyzABCDEF",', "abcdefghijklmnopqrstuvwxyzABCDEF"),
    ("set community publicComm1", "publicComm1"),
    (" key hexadecimal ABCDEF123456", "ABCDEF123456"),
    (" pre-shared-key remote hex 1234a", "1234a"),
    ("set service snmp v3 user ops auth plaintext-key opsKey123", "opsKey123"),
    (" snmp-agent community read c0mmRead", "c0mmRead"),
    ("key config-key password-encrypt MasterKey123", "MasterKey123"),
    ("        set md5-key ENC abcDEF123==", "abcDEF123=="),
]

NOT_SECRET = [
    " set community 65000:100 additive",
    "  set community (64512:500)",
    "set policy route-map RM rule 1 set community 'internet'",
    "password inheritance-disable",
    "    authentication-order [ tacplus password ];",
    "key-string row VefEkyDGNlWj+qEIiCm/DSZurzWPgtdS",
    "Key version         : A",
    "Rotate the SNMP community quarterly and update the NMS.",
    "5. Record every command in the incident; rotate the emergency password afterwards.",
    "A secret piece of text. ie, a password. Tracks text encoding.",
    "Command Tokens                :       3162      72",
    "ntp server 192.0.2.2 key 2 prefer",
    "Is it normal that 'show run' masks the key-string values?",
    "Why does the NX-OS config show 'password 5' for the admin user?",
    "secret sharing is disabled",
]


@pytest.mark.parametrize(("line", "secret"), LEAKED)
def test_previously_leaked_values_are_replaced_and_nothing_else(line: str, secret: str) -> None:
    verdict = SecretsScanner().scan(line, ScanContext("t", Stage.INPUT))
    assert verdict.action is Action.REDACT
    pattern = re.escape(line).replace(re.escape(secret), r"<SECRET:[a-z0-9-]+:1>")
    assert re.fullmatch(pattern, verdict.text), verdict.text


@pytest.mark.parametrize("line", NOT_SECRET)
def test_keywords_policies_and_prose_are_left_alone(line: str) -> None:
    assert SecretsScanner().scan(line, ScanContext("t", Stage.INPUT)).text == line


def test_a_rule_without_a_secret_group_is_refused() -> None:
    with pytest.raises(ValueError, match="no `secret` group"):
        rule("broken", r"password\s+(\S+)")


def test_required_words_are_read_off_the_pattern() -> None:
    assert rule("k", r"\bip\s+ftp\s+password\s+(?P<secret>\S+)").needs == ("password",)
    assert set(rule("k", r"\b(?:tacacs|radius)\s+key\s+(?P<secret>\S+)").needs) == {"tacacs", "radius"}
    assert rule("k", r"(?P<secret>\$9\$\S+)").needs == ("$9$",)
    assert rule("k", r"\bk(?:ey)?\s+(?P<secret>\S+)").needs == ()  # no 3-character word required: always run


def test_the_word_prefilter_never_changes_a_result() -> None:
    texts = [line.text for line in load_independent("dev")] + [line for line, _ in LEAKED] + NOT_SECRET
    fast = SecretsScanner()
    full = SecretsScanner(tuple(dataclasses.replace(r, needs=()) for r in RULES))
    assert sum(1 for r in RULES if r.needs) >= 90
    for text in texts:
        ctx = ScanContext("t", Stage.INPUT)
        assert fast.scan(text, ctx).text == full.scan(text, ScanContext("t", Stage.INPUT)).text, text


def test_independent_set_is_split_by_source_file_and_spans_vendors() -> None:
    rows = [json.loads(raw) for raw in (INDEPENDENT_DIR / "lines.jsonl").read_text().splitlines()]
    split_of: dict[str, set[str]] = {}
    for row in rows:
        split_of.setdefault(row["source"], set()).add(row["split"])
        for value in row["secrets"]:
            assert value in row["text"]
    assert all(len(splits) == 1 for splits in split_of.values())
    secret_rows = [r for r in rows if r["secrets"]]
    assert len(secret_rows) >= 400 and len(rows) - len(secret_rows) >= 10_000
    by_split = Counter(r["split"] for r in secret_rows)
    assert by_split["dev"] >= 150 and by_split["test"] >= 150
    vendors = {r["vendor"] for r in secret_rows if r["split"] == "test"}
    assert len(vendors) >= 5


def test_redaction_quality_counts_leaks_structure_and_false_positives() -> None:
    lines = [
        SecretLine("x", "snmp-server community s3cr3t RO", ("s3cr3t",)),
        SecretLine("x", "wibble frobnicate zz9pluralzalpha", ("zz9pluralzalpha",)),  # no rule knows this: a leak
        SecretLine("x", "interface Gi0/1", ()),
        SecretLine("x", "snmp-server community public RO", ()),  # labelled benign: counts as a false positive
    ]
    q = redaction_quality(SecretsScanner(), "toy", lines)
    assert (q.secret_lines, q.caught, q.value_replaced, q.benign_lines, q.flagged) == (2, 1, 1, 2, 1)
    assert q.missed == ("wibble frobnicate zz9pluralzalpha",)
    assert q.as_dict()["fp_per_1000"] == 500.0


def test_dev_split_meets_the_target() -> None:
    dev = redaction_quality(SecretsScanner(), "dev", load_independent("dev"))
    assert dev.recall >= 0.99 and dev.replaced_rate >= 0.95 and dev.fp_per_1000 <= 1.0


def test_bench_secrets_only_prints_the_side_by_side_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "NETOPS_DATA_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "gateway", "bench", "guardrails", "--secrets-only", "--out", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("own: secret_lines.tsv", "independent dev", "independent test", "runbooks"):
        assert name in done.stdout
    rows = {r["dataset"]: r for r in json.loads(out.read_text())["secrets_redaction"]}
    expected = {r.dataset: r.as_dict() for r in independent_redaction(SecretsScanner())}
    assert rows == expected
    assert rows["independent test"]["secret_lines"] >= 150
