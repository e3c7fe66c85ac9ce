"""`/netops status`, `search` and the incident thread with its summary, over the HTTP Events API."""

from __future__ import annotations

from tests.slack.conftest import SlackRig, wait_for


def ephemerals(rig: SlackRig, user: str, marker: str) -> list[str]:
    return [c.text() for c in rig.slack.calls("chat.postEphemeral") if c.args["user"] == user and marker in c.text()]


def test_status_shows_routes_deployments_and_inventory_health(rig: SlackRig) -> None:
    assert rig.command("C0DEMO", "U0APPR", "status").status_code == 200
    (shown,) = wait_for(lambda: ephemerals(rig, "U0APPR", "*Inventory*"))
    assert "netops-assistant" in shown and "model:local-smollm2" in shown and "r1 (vtysh)" in shown


def test_search_lists_runbook_hits_with_links(rig: SlackRig) -> None:
    assert rig.command("C0DEMO", "U0APPR", "search bgp neighbor stuck in active").status_code == 200
    (shown,) = wait_for(lambda: ephemerals(rig, "U0APPR", "*Runbooks for*"))
    assert f"{rig.url}/v1/runbooks/section?path=" in shown and "bgp" in shown.lower()


def test_an_incident_thread_collects_the_timeline_and_summarises_it_with_audit_ids(rig: SlackRig) -> None:
    assert rig.command("C0DEMO", "U0ADMIN", "incident start r1 to r3 link flapping").status_code == 200
    (opened,) = wait_for(lambda: [c for c in rig.slack.calls("chat.postMessage") if "link flapping" in c.text()])
    thread = opened.ts
    rig.mention("C0DEMO", "U0USER", "is the interface r1-r3 up on r1?", thread_ts=thread)
    wait_for(
        lambda: [
            r
            for r in rig.audit("slack.handled")
            if r["payload"]["thread_ts"] == thread and r["payload"]["action"] == "ask"
        ]
    )
    assert rig.command("C0DEMO", "U0ADMIN", "incident summary").status_code == 200
    (summary,) = wait_for(
        lambda: [
            c
            for c in rig.slack.calls("chat.postMessage")
            if c.args.get("thread_ts") == thread and "Incident summary" in c.text()
        ]
    )
    text = summary.text()
    asked = [
        r for r in rig.audit("slack.handled") if r["payload"]["thread_ts"] == thread and r["payload"]["action"] == "ask"
    ]
    rid = asked[0]["payload"]["gateway_requests"][-1]
    assert "r1 to r3 link flapping" in text and "is the interface r1-r3 up on r1?" in text
    assert "*tool*" in text and rid in text
