"""Canary and shadow rollouts of prompt versions (`gateway.rollout`): sticky share routing, shadow answers that
are never shown, the automatic rollback of a candidate that leaks its system prompt (a real gateway over the
real model), promotion that survives a restart, and the feedback endpoint's tenant scoping."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from gateway.audit import AuditLog
from gateway.cli import cli
from gateway.db import open_engine
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.prompting import PromptBook, PromptSet
from gateway.rollout import Rollouts
from gateway.rollout_model import Counters, Mode, Rollout, Served, bucket, conversation_key
from gateway.settings import PromptSettings
from tests.conftest import ModelEndpoint, TenantGateway, one_tenant_gateway
from tests.gateway.test_audit import fresh_pg_database

PACKAGED = Path(__file__).resolve().parents[2] / "gateway" / "prompts"
# SmolLM2-135M follows this instruction (greedy decoding) for the questions below: the output guard's canary
# scanner then blocks the answer, as it would block any prompt version that makes the model echo its instructions
LEAKY = "Start every answer with the word $canary and then answer."
QUESTIONS = ("bgp session down on r1", "ospf neighbor stuck in init", "dns fails")


def _candidate(tmp_path: Path, system: str) -> Path:
    folder = tmp_path / "candidate"
    shutil.copytree(PACKAGED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "system.txt").write_text(system)
    return folder


def _rollouts(data_dir: Path, pins: dict[str, str] | None = None) -> Rollouts:
    """A process's view of the rollouts over the data directory's SQLite store."""
    engine = open_engine(f"sqlite:///{data_dir / 'netops.db'}")
    return Rollouts(engine, PromptBook.open(None, engine=engine, pins=pins or {}), AuditLog(engine))


def _netops(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["prompts", *args], env={"NETOPS_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    return result.output


def _ask(tg: TenantGateway, question: str, conversation: str, key: str = "") -> httpx.Response:
    body = {"model": "netops-assistant", "max_tokens": 16, "messages": [{"role": "user", "content": question}]}
    headers = {"authorization": f"Bearer {key or tg.key}", "x-netops-conversation": conversation}
    return httpx.post(f"{tg.url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def _records(tg: TenantGateway, kind: str) -> list[dict[str, Any]]:
    return [r for r in tg.svc.audit.records(limit=500) if r["kind"] == kind]


def test_share_routing_is_sticky_per_conversation_and_close_to_the_share(tmp_path: Path) -> None:
    rollouts = _rollouts(tmp_path)
    candidate = rollouts.book.keep(PromptSet.from_dir(_candidate(tmp_path, "Answer in one word.")))
    rollout = rollouts.start("t", candidate, mode=Mode.CANARY, share=0.2, margin=0.1, min_requests=5, actor="test")
    chosen = {c: rollouts.choose("t", c).prompts.version for c in (f"conv-{i}" for i in range(400))}
    share = sum(v == candidate for v in chosen.values()) / len(chosen)
    assert 0.14 <= share <= 0.26, share
    for conversation, version in list(chosen.items())[:40]:  # the same conversation, the same version
        assert rollouts.choose("t", conversation).prompts.version == version
        assert (version == candidate) == (bucket("t", conversation, rollout.id) < 0.2)
    other = rollouts.choose("u", "conv-1")  # another tenant is outside a rollout of tenant t
    assert (other.prompts.version, other.rollout) == (rollout.baseline, "")


@pytest.fixture(scope="module")
def canary_gateway(model: ModelEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    """A gateway of its own (tenant `t`, no runbooks, no tools) whose data directory the CLI shares."""
    fresh = PromptSettings(rollout_refresh_s=0)  # the CLI (another process) switches; the gateway sees it at once
    with one_tenant_gateway(tmp_path_factory.mktemp("canary"), model.url, prompts=fresh) as tg:
        yield tg


def test_a_leaking_candidate_is_rolled_back_automatically(canary_gateway: TenantGateway, tmp_path: Path) -> None:
    tg = canary_gateway
    data = tg.svc.settings.data_dir
    candidate = _netops(data, "add", str(_candidate(tmp_path, LEAKY))).strip()
    baseline = tg.svc.rollouts.in_force("t")
    _netops(data, "canary", candidate, "--tenant", "t", "--share", "0.5", "--margin", "0.2", "--min-requests", "3")
    rollout = tg.svc.rollouts.active("t")
    assert rollout is not None and (rollout.candidate, rollout.baseline) == (candidate, baseline)
    conversations = [f"conv-{i}" for i in range(100)]  # the gateway's key for X-NetOps-Conversation: conv-i
    to_candidate = [c for c in conversations if bucket("t", conversation_key(c, ""), rollout.id) < 0.5][:3]
    to_baseline = [c for c in conversations if bucket("t", conversation_key(c, ""), rollout.id) >= 0.5][:2]

    for conversation, question in zip(to_baseline, QUESTIONS, strict=False):
        answered = _ask(tg, question, conversation)
        assert answered.status_code == 200, answered.text
        assert answered.json()["netops"]["prompts"] == baseline
    for conversation, question in zip(to_candidate, QUESTIONS, strict=True):
        assert tg.svc.rollouts.active("t") is not None  # still running until the third candidate request
        refused = _ask(tg, question, conversation)
        assert refused.status_code == 400 and refused.json()["code"] == "guardrail_blocked", refused.text

    assert tg.svc.rollouts.active("t") is None
    counts = tg.svc.rollouts.by_version(rollout.id)
    assert counts[candidate].requests == 3 and counts[candidate].blocks == 3
    assert counts[baseline].requests == 2 and counts[baseline].blocks == 0
    (event,) = [r for r in _records(tg, "prompts.rolled_back") if r["payload"]["rollout"] == rollout.id]
    payload = event["payload"]
    assert (payload["reason"], payload["actor"], payload["candidate"]) == ("block_rate", "auto", candidate)
    assert payload["counters"][candidate]["block_rate"] == 1.0
    started = [r for r in _records(tg, "prompts.rollout_started") if r["payload"]["rollout"] == rollout.id]
    assert len(started) == 1
    # the conversation the candidate answered is back on the version in force
    again = _ask(tg, "how do I check interface errors?", to_candidate[0])
    assert again.status_code == 200 and again.json()["netops"]["prompts"] == baseline
    status = _netops(data, "status", "--tenant", "t")
    assert f"ended {rollout.id} [t] {candidate} vs {baseline}: rolled_back (block_rate)" in status


def test_a_shadow_candidate_is_answered_counted_and_never_shown(canary_gateway: TenantGateway, tmp_path: Path) -> None:
    tg = canary_gateway
    candidate = tg.svc.prompts.keep(PromptSet.from_dir(_candidate(tmp_path, LEAKY)))
    before = _ask(tg, QUESTIONS[0], "shadow-1")
    assert before.status_code == 200, before.text
    rollout = tg.svc.rollouts.start(
        "t", candidate, mode=Mode.SHADOW, share=1.0, margin=1.0, min_requests=50, actor="test"
    )
    shown = _ask(tg, QUESTIONS[0], "shadow-1")
    assert shown.status_code == 200, shown.text
    assert shown.json()["netops"]["prompts"] == rollout.baseline
    deadline = time.monotonic() + 60  # the shadow answer is computed after the response, in the background
    while tg.svc.rollouts.by_version(rollout.id).get(candidate, Counters()).requests < 1:
        assert time.monotonic() < deadline, "no shadow answer was recorded"
        time.sleep(0.2)
    counts = tg.svc.rollouts.by_version(rollout.id)
    assert counts[candidate].blocks == 1 and counts[rollout.baseline].requests == 1
    rid = shown.headers["x-request-id"]
    (record,) = [r for r in _records(tg, "prompts.shadow") if r["request_id"] == rid]
    payload = record["payload"]
    assert payload["blocked"] is True and payload["version"] == candidate and "answer" not in payload
    shown_text = shown.json()["choices"][0]["message"]["content"]
    assert payload["answer_digest"] != hashlib.sha256(shown_text.encode()).hexdigest()  # not the one shown
    tg.svc.rollouts.rollback("t", actor="test")


def test_feedback_is_booked_for_the_version_and_scoped_to_the_tenant(canary_gateway: TenantGateway) -> None:
    tg = canary_gateway
    answered = _ask(tg, "interface errors on r2", "feedback-1")
    assert answered.status_code == 200, answered.text
    rid, version = answered.headers["x-request-id"], answered.json()["netops"]["prompts"]
    url, mine = f"{tg.url}/v1/feedback", {"authorization": f"Bearer {tg.key}"}
    before = tg.svc.rollouts.counters("").get(("t", version), Counters())
    voted = httpx.post(url, json={"request_id": rid, "rating": "down"}, headers=mine)
    assert voted.status_code == 200 and voted.json() == {"request_id": rid, "rating": "down", "version": version}
    changed = httpx.post(url, json={"request_id": rid, "rating": "up"}, headers=mine)
    assert changed.status_code == 200
    after = tg.svc.rollouts.counters("")[("t", version)]
    assert (after.thumbs_up - before.thumbs_up, after.thumbs_down - before.thumbs_down) == (1, 0)
    feedback = [r for r in _records(tg, "feedback.given") if r["payload"]["rated"] == rid]
    assert [r["payload"]["rating"] for r in feedback] == ["up", "down"]

    tg.svc.tenants.create("u", models=["*"], tools=[], rpm=100)
    theirs = {"authorization": f"Bearer {tg.svc.tenants.create_key('u').plaintext}"}
    foreign = httpx.post(url, json={"request_id": rid, "rating": "down"}, headers=theirs)
    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
    assert foreign.headers["content-type"].startswith("application/problem+json")
    for bad in ({"request_id": rid, "rating": "meh"}, {"request_id": "../etc", "rating": "up"}, {"rating": "up"}):
        refused = httpx.post(url, json=bad, headers=mine)
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_request", refused.text
    broken = httpx.post(url, content=b"{not json", headers={**mine, "content-type": "application/json"})
    assert broken.status_code == 422 and broken.headers["content-type"].startswith("application/problem+json")
    unknown = httpx.post(url, json={"request_id": "0123456789abcdef", "rating": "up"}, headers=mine)
    assert unknown.status_code == 404


def test_promote_keeps_the_candidate_in_force_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    candidate = _netops(data, "add", str(_candidate(tmp_path, "Answer in one word. $canary"))).strip()
    baseline = PromptSet.packaged().version
    _netops(data, "canary", candidate, "--all", "--share", "0.3")
    assert "[*] canary share=0.3" in _netops(data, "status")
    assert "promoted" in _netops(data, "promote", "--all")
    restarted = _rollouts(data)  # a new process: state comes from the database alone
    assert restarted.in_force("t") == candidate and restarted.choose("t", "c").prompts.version == candidate
    assert restarted.active("t") is None
    pinned = _rollouts(data, pins={"t": baseline})  # a settings pin still wins
    assert pinned.choose("t", "c").prompts.version == baseline
    kinds = [r["kind"] for r in restarted.audit.records(limit=10)]  # newest first
    assert kinds[:2] == ["prompts.promoted", "prompts.rollout_started"]
    result = CliRunner().invoke(cli, ["prompts", "rollback", "--all"], env={"NETOPS_DATA_DIR": str(data)})
    assert result.exit_code == 2 and "no active prompt rollout" in result.output


def test_a_rollout_refuses_unknown_versions_bad_numbers_and_a_second_rollout(tmp_path: Path) -> None:
    rollouts = _rollouts(tmp_path)
    candidate = rollouts.book.keep(PromptSet.from_dir(_candidate(tmp_path, "Answer in one word.")))

    def start(version: str, share: float = 0.5) -> Rollout:
        return rollouts.start("t", version, mode=Mode.CANARY, share=share, margin=0.1, min_requests=5, actor="test")

    with pytest.raises(NotFound):
        start("0123456789ab")
    with pytest.raises(NotFound):
        start("../../etc/passwd")
    with pytest.raises(InvalidRequest):
        start(candidate, share=1.5)
    with pytest.raises(Conflict):
        start(rollouts.book.current.version)
    start(candidate)
    with pytest.raises(Conflict, match="already active"):
        start(candidate)


def test_a_tenant_admin_runs_its_own_rollout_over_http(canary_gateway: TenantGateway, tmp_path: Path) -> None:
    tg = canary_gateway
    candidate = tg.svc.prompts.keep(PromptSet.from_dir(_candidate(tmp_path, "Answer in two words.")))
    admin = tg.svc.tenants.create_key("t", label="prompts-admin", role="admin")
    headers = {"authorization": f"Bearer {admin.plaintext}"}
    base = f"{tg.url}/v1/admin/prompts"
    user = httpx.post(f"{base}/canary", json={"version": candidate}, headers={"authorization": f"Bearer {tg.key}"})
    assert user.status_code == 403 and user.json()["code"] == "forbidden"
    assert httpx.post(f"{base}/canary", json={"version": "0123456789ab"}, headers=headers).status_code == 404
    bad = httpx.post(f"{base}/canary", json={"version": candidate, "share": 2}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    started = httpx.post(f"{base}/canary", json={"version": candidate, "share": 0.25}, headers=headers)
    assert started.status_code == 200, started.text
    assert (started.json()["scope"], started.json()["share"], started.json()["state"]) == ("t", 0.25, "active")
    again = httpx.post(f"{base}/canary", json={"version": candidate}, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    status = httpx.get(base, headers=headers).json()
    assert status["rollout"]["candidate"] == candidate and status["in_force"] == started.json()["baseline"]
    ended = httpx.post(f"{base}/rollback", json={}, headers=headers)
    assert ended.status_code == 200 and ended.json()["state"] == "rolled_back"
    assert httpx.post(f"{base}/rollback", headers=headers).status_code == 404
    (record,) = [r for r in _records(tg, "prompts.rolled_back") if r["payload"]["rollout"] == ended.json()["id"]]
    assert (record["tenant"], record["payload"]["actor"]) == ("t", admin.key_id)


def test_counters_and_the_rollback_hold_with_concurrent_writers_on_postgresql(tmp_path: Path) -> None:
    """Two gateway processes' worth of writers (own engines) on one PostgreSQL database: no count is lost and
    the automatic rollback happens, and is audited, exactly once."""
    with fresh_pg_database() as url:
        engine = open_engine(url)
        book = PromptBook.open(None, engine=engine, pins={})
        rollouts = Rollouts(engine, book, AuditLog(engine))
        candidate = book.keep(PromptSet.from_dir(_candidate(tmp_path, "Answer in one word.")))
        rollout = rollouts.start("t", candidate, mode=Mode.CANARY, share=0.5, margin=0.5, min_requests=20, actor="test")
        writers = [Rollouts(open_engine(url), book, AuditLog(rollouts.engine)) for _ in range(2)]

        def serve(version: str, blocked: bool, n: int) -> None:
            writers[n % 2].record(Served("t", f"{version}-{n:04d}", version, rollout.id, blocked=blocked))

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda n: serve(rollout.baseline, False, n), range(40)))
            list(pool.map(lambda n: serve(candidate, True, n), range(19)))
            assert rollouts.active("t") is not None  # 19 < min_requests: not judged yet
            list(pool.map(lambda n: serve(candidate, True, n), range(19, 30)))
        assert rollouts.active("t") is None
        counts = rollouts.by_version(rollout.id)
        assert (counts[rollout.baseline].requests, counts[candidate].requests, counts[candidate].blocks) == (40, 30, 30)
        rolled = [r for r in rollouts.audit.records(limit=200) if r["kind"] == "prompts.rolled_back"]
        assert len(rolled) == 1 and rolled[0]["payload"]["reason"] == "block_rate"
        for w in (rollouts, *writers):
            w.engine.dispose()
