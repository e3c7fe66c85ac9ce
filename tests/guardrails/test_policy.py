"""Policy as code: per-tenant YAML validated at start-up, versioned by hash, timeouts fail closed."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from guardrails import (
    GuardChain,
    PolicyError,
    ScanContext,
    Scanner,
    ScannerFailed,
    SecretsScanner,
    Stage,
    Verdict,
    load_guards,
    register,
)
from guardrails.chain import INLINE_CHARS
from guardrails.errors import InputTooLarge, ScannerTimedOut
from guardrails.injection import InjectionScanner
from guardrails.scanner import build_scanner

REPO_POLICIES = Path(__file__).resolve().parents[2] / "infra" / "policies"


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body)
    return path


def test_repo_policies_load_and_have_versioned_ids() -> None:
    guards = load_guards(REPO_POLICIES, max_chars=24_000, max_tokens=1_500)
    policy_id = guards.default.policy_id
    assert policy_id.startswith("default@") and len(policy_id) == len("default@") + 12
    names = [s.name for s in guards.default.input.scanners]
    assert names[0] == "size_limit" and {"secrets", "pii", "prompt_injection"} <= set(names)
    assert guards.for_tenant("anyone") is guards.default


def test_tenant_policy_overrides_default_and_hash_tracks_content(tmp_path: Path) -> None:
    write(tmp_path, "default", "input: [{scanner: secrets}]\n")
    write(tmp_path, "acme", "input: [{scanner: secrets}, {scanner: pii, options: {network_identifiers: true}}]\n")
    first = load_guards(tmp_path, max_chars=100, max_tokens=100)
    assert [s.name for s in first.for_tenant("acme").input.scanners] == ["size_limit", "secrets", "pii"]
    write(tmp_path, "acme", "input: [{scanner: secrets}]\n")
    second = load_guards(tmp_path, max_chars=100, max_tokens=100)
    assert first.for_tenant("acme").policy_id != second.for_tenant("acme").policy_id


def test_a_policy_may_set_its_own_size_limit_which_still_runs_first(tmp_path: Path) -> None:
    write(tmp_path, "default", "input: [{scanner: secrets}]\n")
    write(tmp_path, "judge", "input: [{scanner: secrets}, {scanner: size_limit, options: {max_tokens: 3000}}]\n")
    guards = load_guards(tmp_path, max_chars=24_000, max_tokens=100)
    long = "show ip bgp summary " * 100  # about 500 tokens
    judge, default = guards.for_tenant("judge").input, guards.for_tenant("other").input
    assert [s.name for s in judge.scanners] == ["size_limit", "secrets"]
    assert judge.run(long, ScanContext("judge", Stage.INPUT)).text == long
    with pytest.raises(InputTooLarge):
        default.run(long, ScanContext("other", Stage.INPUT))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("input: [{scanner: no_such_scanner}]\n", "unknown scanner 'no_such_scanner'"),
        ("input: [{scanner: prompt_injection, options: {threshold: 7}}]\n", "thresholds must be in"),
        ("input: [{scanner: prompt_injection, options: {threshold: high}}]\n", "invalid options"),
        ("input: [{scanner: secrets, options: {aggressive: true}}]\n", "unknown option"),
        ("inputs: [{scanner: secrets}]\n", "Extra inputs are not permitted"),
        ("timeout_ms: -1\n", "timeout_ms"),
        ("output: [{scanner: topic}]\n", "does not run on the output stage"),
        ("fail_open: [pii]\ninput: [{scanner: secrets}]\n", "fail_open names scanners"),
    ],
)
def test_bad_policy_fails_boot_with_a_clear_message(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path, "default", "input: [{scanner: secrets}]\n")
    path = write(tmp_path, "acme", body)
    with pytest.raises(PolicyError, match=re.escape(message)) as info:
        load_guards(tmp_path, max_chars=100, max_tokens=100)
    assert str(path) in info.value.detail


def test_missing_default_policy_fails(tmp_path: Path) -> None:
    tmp_path.joinpath("acme.yaml").write_text("input: []\n")
    with pytest.raises(PolicyError, match=r"no default\.yaml"):
        load_guards(tmp_path, max_chars=100, max_tokens=100)


class Slow:
    """A scanner that reports taking a long time (its clock is ours: it sleeps past the deadline)."""

    name = "slow"
    stages = frozenset({Stage.INPUT})

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        import time

        time.sleep(0.05)
        return Verdict.allow(self.name, text)


@register("slow_test_scanner")
def _make_slow(options: Mapping[str, object]) -> Scanner:
    return Slow()


def test_a_scanner_over_its_timeout_fails_closed_unless_fail_open() -> None:
    ctx = ScanContext("t", Stage.INPUT)
    with pytest.raises(ScannerTimedOut, match="fail closed") as info:
        GuardChain([Slow()], timeout_s=0.001).run("hello", ctx)
    assert isinstance(info.value, ScannerFailed) and info.value.code == "guardrail_timeout"
    assert GuardChain([Slow()], fail_open=["slow"], timeout_s=0.001).run("hello", ctx).text == "hello"


class Hangs:
    """A scanner stuck far past any deadline (a wedged model call, say)."""

    name = "hangs"
    stages = frozenset({Stage.INPUT})

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        import time

        time.sleep(1.0)
        return Verdict.allow(self.name, text)


def test_a_hung_scanner_is_abandoned_on_the_request_path() -> None:
    import asyncio

    ctx = ScanContext("t", Stage.INPUT)
    with pytest.raises(ScannerTimedOut, match="fail closed"):
        asyncio.run(GuardChain([Hangs()], timeout_s=0.02).arun("hello", ctx))
    passed = asyncio.run(
        GuardChain([Hangs(), SecretsScanner()], fail_open=["hangs"], timeout_s=0.02).arun(
            "snmp-server community abc123 RO", ctx
        )
    )
    assert passed.text == "snmp-server community <SECRET:snmp-community:1> RO"


class Where:
    """Records the thread it ran in."""

    stages = frozenset({Stage.INPUT})

    def __init__(self, name: str, seen: list[int]) -> None:
        self.name, self._seen = name, seen

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        import threading

        self._seen.append(threading.get_ident())
        return Verdict.allow(self.name, text)


def test_a_chain_leaves_the_event_loop_once_and_goes_on_past_a_hung_fail_open_scanner() -> None:
    import asyncio
    import threading

    ctx = ScanContext("t", Stage.INPUT)
    seen: list[int] = []
    chain = GuardChain([Where("a", seen), Where("b", seen), Where("c", seen)], timeout_s=0.5)
    assert [v.scanner for v in asyncio.run(chain.arun("hello", ctx)).verdicts] == ["a", "b", "c"]
    assert len(set(seen)) == 1 and threading.get_ident() not in seen  # one hand-off, off the loop

    seen.clear()
    chain = GuardChain(
        [Where("a", seen), Hangs(), SecretsScanner(), Where("c", seen)], fail_open=["hangs"], timeout_s=0.02
    )
    result = asyncio.run(chain.arun("snmp-server community abc123 RO", ctx))
    assert [v.scanner for v in result.verdicts] == ["a", "hangs", "secrets", "c"]
    assert result.verdicts[1].action.value == "failed_open"
    assert result.text == "snmp-server community <SECRET:snmp-community:1> RO"
    assert len(set(seen)) == 2  # the chain went on in a new thread after the hung scanner


class Bounded(Where):
    """In-process work in proportion to the text; `delay` makes it slow."""

    bounded = True

    def __init__(self, name: str, seen: list[int], delay: float = 0.0) -> None:
        super().__init__(name, seen)
        self._delay = delay

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        time.sleep(self._delay)
        return super().scan(text, ctx)


def test_a_short_text_for_bounded_scanners_is_scanned_in_place_and_still_held_to_the_deadline() -> None:
    ctx = ScanContext("t", Stage.INPUT)
    seen: list[int] = []
    chain = GuardChain([Bounded("a", seen), Bounded("b", seen)], timeout_s=0.5)
    assert asyncio.run(chain.arun("ok\n", ctx)).text == "ok\n"
    assert seen == [threading.get_ident()] * 2  # no hand-off for a streamed line
    seen.clear()
    asyncio.run(chain.arun("x" * (INLINE_CHARS + 1), ctx))
    assert len(seen) == 2 and threading.get_ident() not in seen  # longer: off the loop
    seen.clear()
    asyncio.run(GuardChain([Bounded("a", seen), Where("w", seen)], timeout_s=0.5).arun("ok\n", ctx))
    assert threading.get_ident() not in seen  # one scanner that may wait: the whole chain off the loop
    with pytest.raises(ScannerTimedOut, match="fail closed"):
        asyncio.run(GuardChain([Bounded("slow", [], delay=0.05)], timeout_s=0.02).arun("ok\n", ctx))


def test_the_injection_scanner_is_bounded_only_with_a_bounded_classifier() -> None:
    class Remote:
        name = "gpu-model"

        def score(self, texts: Sequence[str]) -> list[float]:
            return [0.0 for _ in texts]

    built = build_scanner("prompt_injection", {})
    assert isinstance(built, InjectionScanner) and built.bounded
    assert not InjectionScanner(Remote()).bounded
    assert not InjectionScanner(built.classifier, Remote()).bounded
