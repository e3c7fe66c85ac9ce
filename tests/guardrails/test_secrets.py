"""The network-secrets redactor and the streaming guard (unit level; the gateway tests cover the path)."""

from __future__ import annotations

import asyncio

import pytest

from guardrails import (
    Action,
    GuardChain,
    ScanContext,
    ScannerFailed,
    SecretsScanner,
    SizeLimit,
    Stage,
    StreamGuard,
    Verdict,
)

CASES = [
    ("snmp-server community s3cr3tC0mm RO", "s3cr3tC0mm", "snmp-community"),
    ("enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "enable-secret"),
    (
        "username admin privilege 15 secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
        "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
        "password",
    ),
    (" neighbor 192.0.2.2 password 7 0822455D0A16", "0822455D0A16", "bgp-password"),
    ("tacacs-server host 10.1.1.1 key 7 045802150C2E", "045802150C2E", "tacacs-radius-key"),
    (" key-string 7 110A1016141D", "110A1016141D", "key-string"),
    (" ip ospf message-digest-key 1 md5 0 0spfK3y", "0spfK3y", "ospf-key"),
    ("crypto isakmp key Pr3Sh4red address 203.0.113.9", "Pr3Sh4red", "ike-psk"),
    ('set system root-authentication encrypted-password "$6$abc$Zm9vYmFyYmF6"', "$6$abc$Zm9vYmFyYmF6", "password"),
    (
        "PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        "wireguard-key",
    ),
]


@pytest.mark.parametrize(("line", "secret", "kind"), CASES)
def test_each_family_is_redacted_with_a_labelled_placeholder(line: str, secret: str, kind: str) -> None:
    verdict = SecretsScanner().scan(line, ScanContext("t", Stage.INPUT))
    assert verdict.action is Action.REDACT
    assert secret not in verdict.text
    assert f"<SECRET:{kind}:1>" in verdict.text


def test_config_stays_readable_and_placeholders_are_stable() -> None:
    text = "snmp-server community abc123 RO\nsnmp-server community abc123 RW\nsnmp-server community xyz RO"
    verdict = SecretsScanner().scan(text, ScanContext("t", Stage.INPUT))
    assert verdict.text == (
        "snmp-server community <SECRET:snmp-community:1> RO\n"
        "snmp-server community <SECRET:snmp-community:1> RW\n"
        "snmp-server community <SECRET:snmp-community:2> RO"
    )
    assert "abc123" not in str(verdict.summary())


def test_benign_config_is_untouched() -> None:
    text = "interface Gi0/1\n description uplink to core\n ip address 192.0.2.1 255.255.255.252\n no shutdown"
    assert SecretsScanner().scan(text, ScanContext("t", Stage.INPUT)).action is Action.ALLOW


async def _feed_all(guard: StreamGuard, pieces: list[str]) -> str:
    emitted = [await guard.afeed(p) for p in pieces]
    return "".join(emitted) + await guard.aflush()


def test_stream_guard_redacts_a_secret_split_across_chunks() -> None:
    guard = StreamGuard(GuardChain([SecretsScanner()]), ScanContext("t", Stage.OUTPUT))
    pieces = ["Configure: snmp-server comm", "unity s3cr", "3tC0mm RO\nthen save", "."]
    emitted = asyncio.run(_feed_all(guard, pieces))
    assert "s3cr3tC0mm" not in emitted
    assert "<SECRET:snmp-community:1>" in emitted and emitted.endswith("then save.")


def test_stream_guard_without_output_scanners_passes_each_delta_on_at_once() -> None:
    for chain in (GuardChain([]), GuardChain([SizeLimit(10, 10)])):  # the size limit runs on input and context
        guard = StreamGuard(chain, ScanContext("t", Stage.OUTPUT))
        pieces = ["Configure: snmp-server comm", "unity s3cr", "3tC0mm RO"]
        assert [asyncio.run(guard.afeed(p)) for p in pieces] == pieces  # no line held back: nothing to scan it
        assert asyncio.run(guard.aflush()) == "" and guard.verdicts == []
    guarded = StreamGuard(GuardChain([SecretsScanner()]), ScanContext("t", Stage.OUTPUT))
    assert asyncio.run(guard.afeed("half a line")) == "half a line"
    assert asyncio.run(guarded.afeed("half a line")) == ""  # with a scanner, the line waits for its end


def test_stream_guard_holds_an_open_private_key_block() -> None:
    guard = StreamGuard(GuardChain([SecretsScanner()]), ScanContext("t", Stage.OUTPUT))
    out = asyncio.run(guard.afeed("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n"))
    assert "MIIEow" not in out
    out += asyncio.run(_feed_all(guard, ["IBAAKC\n-----END RSA PRIVATE KEY-----\n"]))
    assert "MIIEow" not in out and "<SECRET:private-key:1>" in out


class Exploding:
    name = "exploding"
    stages = frozenset({Stage.INPUT})

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        raise RuntimeError("model file missing")


def test_failing_scanner_blocks_unless_fail_open() -> None:
    ctx = ScanContext("t", Stage.INPUT)
    with pytest.raises(ScannerFailed, match="fail closed"):
        GuardChain([Exploding()]).run("hello", ctx)
    result = GuardChain([Exploding()], fail_open=["exploding"]).run("hello", ctx)
    assert result.text == "hello"
    assert [(v.scanner, v.action) for v in result.verdicts] == [("exploding", Action.FAILED_OPEN)]
    assert "RuntimeError" in result.verdicts[0].reason


def test_stream_guard_redacts_a_secret_after_a_long_line_is_cut() -> None:
    guard = StreamGuard(GuardChain([SecretsScanner()]), ScanContext("t", Stage.OUTPUT), max_hold=64)
    prose = "word " * 20
    first = asyncio.run(guard.afeed(prose + "snmp-server community"))  # long line, no newline: released in pieces
    emitted = first + asyncio.run(_feed_all(guard, [" Zz9s3cretComm RO and " + "more " * 20]))
    assert "Zz9s3cretComm" not in emitted
    assert "snmp-server community <SECRET:snmp-community:1> RO" in emitted
    assert emitted.replace("<SECRET:snmp-community:1>", "Zz9s3cretComm") == prose + (
        "snmp-server community Zz9s3cretComm RO and " + "more " * 20
    )
