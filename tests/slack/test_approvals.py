"""Approvals in Slack through the gateway and the FRR lab: the card, the two-person rule (enforced by the
gateway), and exactly one execution and one card update when two approvers click at once and Slack retries."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from evals.slack_api import Call, block_actions, form
from gateway.slack.blocks import APPROVE
from tests.slack.conftest import TEAM, SlackRig, wait_for


def click(
    rig: SlackRig, user: str, card: Call, action_id: str, *, payload: dict[str, Any] | None = None
) -> httpx.Response:
    message = {"ts": card.ts, "thread_ts": card.args.get("thread_ts"), "type": "message", "text": card.args["text"]}
    payload = payload or block_actions(TEAM, "C0DEMO", user, message, APPROVE, action_id)
    return rig.post(form({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def refusals(rig: SlackRig, user: str) -> list[str]:
    return [c.args["text"] for c in rig.slack.calls("chat.postEphemeral") if c.args["user"] == user]


def test_an_approval_card_obeys_the_two_person_rule_and_updates_exactly_once(rig: SlackRig) -> None:
    thread = rig.mention("C0DEMO", "U0ADMIN", "propose interface_shutdown device=r3 interface=r3-dns")
    (card,) = wait_for(
        lambda: [
            c
            for c in rig.slack.calls("chat.postMessage")
            if c.args.get("thread_ts") == thread and "Change proposed" in c.text()
        ]
    )
    text = card.text()
    assert "interface r3-dns" in text and "shutdown" in text and "*Before*" in text and "admin up" in text.lower()
    action_id = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"][0]["value"]

    seen = {user: len(refusals(rig, user)) for user in ("U0ADMIN", "U0USER")}  # earlier tests' messages too
    assert click(rig, "U0ADMIN", card, action_id).status_code == 200  # the proposer
    assert click(rig, "U0USER", card, action_id).status_code == 200  # not an approver
    wait_for(lambda: all(len(refusals(rig, user)) > n for user, n in seen.items()))
    assert "approval_refused" in refusals(rig, "U0ADMIN")[-1] and "approval_refused" in refusals(rig, "U0USER")[-1]

    message = {"ts": card.ts, "thread_ts": thread, "type": "message", "text": card.args["text"]}
    first = block_actions(TEAM, "C0DEMO", "U0APPR", message, APPROVE, action_id)
    second = block_actions(TEAM, "C0DEMO", "U0APPR2", message, APPROVE, action_id)
    clicks = [first, second, first]  # two approvers at once, and Slack retrying the first click
    threads = [
        threading.Thread(target=click, args=(rig, p["user"]["id"], card, action_id), kwargs={"payload": p})
        for p in clicks
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(
        lambda: [
            r
            for r in rig.audit("slack.handled")
            if r["payload"]["action_id"] == action_id
            and r["payload"]["action"] == "approve"
            and r["payload"]["user"] in ("U0APPR", "U0APPR2")
        ]
    )
    wait_for(
        lambda: (
            len(
                [
                    r
                    for r in rig.audit("slack.handled")
                    if r["payload"]["action_id"] == action_id and r["payload"]["user"] in ("U0APPR", "U0APPR2")
                ]
            )
            == 2
        )
    )
    card_updates = [c for c in rig.slack.calls("chat.update") if c.args.get("ts") == card.ts]
    assert len(card_updates) == 1 and "EXECUTED" in card_updates[0].text()
    executed = [r for r in rig.audit("action.executed") if r["payload"]["action_id"] == action_id]
    assert len(executed) == 1
    outcomes = sorted(
        r["payload"]["outcome"]
        for r in rig.audit("slack.handled")
        if r["payload"]["action_id"] == action_id and r["payload"]["user"] in ("U0APPR", "U0APPR2")
    )
    assert outcomes == ["action_not_pending", "executed"]
    decided = [
        r for r in rig.audit("request.completed") if r["payload"].get("via", {}).get("user") in ("U0APPR", "U0APPR2")
    ]
    assert decided and decided[0]["payload"]["via"]["channel"] == "C0DEMO"
    _undo(rig, thread)


def _undo(rig: SlackRig, thread: str) -> None:
    rig.mention("C0DEMO", "U0ADMIN", "propose interface_no_shutdown device=r3 interface=r3-dns", thread_ts=thread)
    (card,) = wait_for(
        lambda: [
            c
            for c in rig.slack.calls("chat.postMessage")
            if c.args.get("thread_ts") == thread and "interface_no_shutdown" in c.text()
        ]
    )
    action_id = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    click(rig, "U0APPR", card, action_id)
    wait_for(lambda: [r for r in rig.audit("action.executed") if r["payload"]["action_id"] == action_id])
