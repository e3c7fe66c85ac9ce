"""The bot over the HTTP Events API, through the real gateway, the real model and the FRR lab."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx

from evals.slack_api import Call, sign
from tests.conftest import ModelEndpoint
from tests.slack.conftest import SECRET, SlackRig, wait_for


def handled(rig: SlackRig, thread: str) -> list[dict[str, Any]]:
    return [r for r in rig.audit("slack.handled") if r["payload"]["thread_ts"] == thread]


def replies(rig: SlackRig, thread: str) -> list[Call]:
    return [c for c in rig.slack.calls("chat.postMessage") if c.args.get("thread_ts") == thread]


def updates(rig: SlackRig, ts: str) -> list[Call]:
    return [c for c in rig.slack.calls("chat.update") if c.args.get("ts") == ts]


def test_a_mention_is_answered_in_a_thread_streamed_with_findings_citations_and_audit(rig: SlackRig) -> None:
    started = time.monotonic()
    thread = rig.mention("C0DEMO", "U0USER", "Alert: BGP session down on r3. What is the session state?")
    acked = time.monotonic()
    (record,) = wait_for(lambda: handled(rig, thread))
    (reply,) = replies(rig, thread)
    done = updates(rig, reply.ts)
    final = done[-1].text()
    assert "*Checks and tools run*" in final and "bgp_summary" in final
    assert "*Sources*" in final and "bgp-session-down" in final
    assert acked - started < 3 and acked < reply.at  # acknowledged before the work was done
    gaps = [b.at - a.at for a, b in itertools.pairwise(done[:-1])]  # the final update is sent at once
    assert all(g >= 0.9 for g in gaps), gaps  # chat.update at most about once a second
    payload = record["payload"]
    assert payload["user"] == "U0USER" and payload["channel"] == "C0DEMO" and payload["outcome"] == "ok"
    rid = payload["gateway_requests"][-1]
    (chat,) = [r for r in rig.audit("chat.completed") if r["request_id"] == rid]
    assert chat["payload"]["via"] == {"client": "slack", "team": "T0TEST", "user": "U0USER", "channel": "C0DEMO"}


def test_a_follow_up_in_the_thread_keeps_the_conversation(rig: SlackRig, model: ModelEndpoint) -> None:
    thread = rig.mention("C0DEMO", "U0USER", "DNS lookups for intranet.example fail from h1")
    wait_for(lambda: handled(rig, thread))
    follow = {
        "type": "message",
        "user": "U0USER",
        "text": "and what about r2?",
        "ts": f"{time.time():.6f}",
        "channel": "C0DEMO",
        "thread_ts": thread,
    }
    response, _ = rig.event(follow)
    assert response.status_code == 200
    records = wait_for(lambda: (found := handled(rig, thread)) and len(found) == 2 and found)
    assert [r["payload"]["outcome"] for r in records] == ["ok", "ok"], [
        c.text() for c in rig.slack.calls("chat.postEphemeral")
    ]
    assert len(replies(rig, thread)) == 2
    last_request = model.request_log.read_text().rsplit("POST /v1/chat/completions", 1)[-1]
    assert "intranet.example fail from h1" in last_request and "what about r2?" in last_request


def test_a_pasted_secret_is_redacted_before_the_model_and_never_posted(rig: SlackRig, model: ModelEndpoint) -> None:
    secret = "0822455D0A16"
    thread = rig.mention(
        "C0DEMO", "U0USER", f"BGP to 192.0.2.2 flaps; config has: neighbor 192.0.2.2 password 7 {secret}"
    )
    wait_for(lambda: handled(rig, thread))
    assert secret not in model.request_log.read_text()
    assert all(secret not in c.text() for c in rig.slack.calls())
    items = rig.store.thread("C0DEMO", thread, "demo")
    assert items and all(secret not in i.text for i in items) and "<SECRET:" in items[0].text


def test_bad_signature_replayed_timestamp_and_missing_header_are_401_and_audited(rig: SlackRig) -> None:
    body = b'{"type": "event_callback", "event": {"type": "app_mention"}}'
    before = len(rig.audit("slack.auth_failed"))
    forged = rig.post(body, "application/json", **{"x-slack-signature": "v0=" + "0" * 64})
    stale = sign(SECRET, body, timestamp=int(time.time()) - 301)
    replayed = httpx.post(
        f"{rig.url}/slack/events", content=body, headers={**stale, "content-type": "application/json"}
    )
    missing = httpx.post(f"{rig.url}/slack/events", content=body, headers={"content-type": "application/json"})
    assert (forged.status_code, replayed.status_code, missing.status_code) == (401, 401, 401)
    codes = [
        r["payload"]["code"] for r in rig.audit("slack.auth_failed")[: len(rig.audit("slack.auth_failed")) - before]
    ]
    assert sorted(codes) == ["bad_signature", "missing_header", "stale_timestamp"]


def test_slack_retries_and_duplicate_event_ids_answer_once(rig: SlackRig) -> None:
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": "U0USER",
        "text": "<@U0NETOPSBOT> is OSPF up on r2?",
        "ts": ts,
        "channel": "C0DEMO",
    }
    first, event_id = rig.event(event)
    retry, _ = rig.event(event, event_id=event_id, **{"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    again, _ = rig.event(event, event_id=event_id)
    assert (first.status_code, retry.status_code, again.status_code) == (200, 200, 200)
    wait_for(lambda: handled(rig, ts))
    time.sleep(1.5)
    assert len(handled(rig, ts)) == 1 and len(replies(rig, ts)) == 1
    chats = [r for r in rig.audit("chat.completed") if r["payload"].get("via", {}).get("channel") == "C0DEMO"]
    assert len({r["request_id"] for r in chats}) == len(chats)


def test_unmapped_channel_unmapped_user_and_another_tenants_user_are_refused_ephemerally(rig: SlackRig) -> None:
    cases = [
        ("C0NOWHERE", "U0USER", "unmapped_channel"),
        ("C0DEMO", "U0NOBODY", "unmapped_user"),
        ("C0DEMO", "U0ACME", "tenant_mismatch"),
    ]
    for channel, user, code in cases:
        thread = rig.mention(channel, user, "show me the BGP sessions on r1")
        wait_for(lambda: _ephemeral_to(rig, channel, user))  # noqa: B023 - waited for within the iteration
        refused = wait_for(lambda: _refused(rig, code, user))  # noqa: B023
        assert refused[0]["payload"]["channel"] == channel
        assert not replies(rig, thread)


def _ephemeral_to(rig: SlackRig, channel: str, user: str) -> list[Call]:
    return [e for e in rig.slack.calls("chat.postEphemeral") if e.args["channel"] == channel and e.args["user"] == user]


def _refused(rig: SlackRig, code: str, user: str) -> list[dict[str, Any]]:
    return [r for r in rig.audit("slack.refused") if r["payload"]["code"] == code and r["payload"]["user"] == user]


def test_the_gateways_own_limits_answer_as_an_ephemeral_message(rig: SlackRig) -> None:
    thread = rig.mention("C0TIGHT", "U0TIGHT", "why is r1 slow?")
    (note,) = wait_for(lambda: [e for e in rig.slack.calls("chat.postEphemeral") if e.args["user"] == "U0TIGHT"])
    assert "budget_exhausted" in note.args["text"] and not replies(rig, thread)
    assert wait_for(lambda: [r for r in handled(rig, thread) if r["payload"]["outcome"] == "budget_exhausted"])


def test_the_gateways_rate_limit_answers_as_an_ephemeral_message(rig: SlackRig) -> None:
    first = rig.mention("C0ONE", "U0ONE", "DNS lookups fail from h1, where do I start?")
    wait_for(lambda: [r for r in handled(rig, first) if r["payload"]["outcome"] != "started"])
    second = rig.mention("C0ONE", "U0ONE", "The BGP session from r1 to r3 is flapping, what should I check?")
    (note,) = wait_for(lambda: [e for e in rig.slack.calls("chat.postEphemeral") if e.args["user"] == "U0ONE"])
    assert "rate_limited" in note.args["text"] and not replies(rig, second), note.args["text"]
    assert wait_for(lambda: [r for r in handled(rig, second) if r["payload"]["outcome"] == "rate_limited"])


def test_slacks_429_retry_after_is_honoured(rig: SlackRig) -> None:
    rig.slack.throttle("chat.postMessage", times=1, retry_after=1)
    response = rig.command("C0DEMO", "U0ADMIN", "incident start rate limited card")
    assert response.status_code == 200
    calls = wait_for(
        lambda: (
            [c for c in rig.slack.calls("chat.postMessage") if "rate limited card" in c.text()]
            * (any(c.status == 200 and "rate limited card" in c.text() for c in rig.slack.calls("chat.postMessage")))
        )
    )
    assert [c.status for c in calls] == [429, 200]  # refused once, sent again: not dropped, not doubled
    assert calls[1].at - calls[0].at >= 1.0  # after the Retry-After it was given
