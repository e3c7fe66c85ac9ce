"""Change tools against the real lab: nothing runs until approved, it runs once, a replay is refused;
the two-person rule, self-approval, roles and expiry."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from gateway.db import open_engine
from tests.tools.conftest import CountingTransport
from tools import ActionNotFound, ActionNotPending, ApprovalRefused, Toolbox
from tools.devices import Transport
from tools.lab import Lab

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TWO_PERSON = """
tenant: ops2
approvals: {required: 2, expiry_s: %s}
roles: {operator: ["*"], approver: [ospf_neighbors]}
devices:
  - {name: edge2, platform: frr, transport: vtysh, vty_socket: "{lab_dir}/r2/run", netns: "{lab_prefix}-r2"}
"""


def ospf_cost(box: Toolbox, tenant: str, device: str, interface: str) -> int:
    _, raw = asyncio.run(box.devices.run(tenant, device, "ospf_interface", interface=interface))
    return int(json.loads(raw)["interfaces"][interface]["cost"])


def two_person_box(lab: Lab, engine: Engine, tmp_path: Path, transport: CountingTransport, expiry: float) -> Toolbox:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "ops2.yaml").write_text(TWO_PERSON % expiry)
    transports: dict[str, Transport] = {"vtysh": transport}
    return Toolbox.build(
        engine,
        inventory_dir=inventory,
        lab_dir=str(lab.root),
        lab_prefix=lab.prefix,
        lab_ssh_port=lab.ssh_port,
        transports=transports,
    )


def test_interface_shutdown_waits_for_approval_runs_once_and_refuses_a_replay(
    box: Toolbox, transport: CountingTransport, lab: Lab
) -> None:
    ctx = box.context("demo", box.registry.names, role="admin", key_id="proposer")
    result = asyncio.run(box.registry.invoke("interface_shutdown", {"device": "r2", "interface": "r2-h2"}, ctx))
    assert "Nothing has run yet" in result.output and "`shutdown`" in result.output
    assert "before: interface r2-h2, admin up, oper up, mtu 1500" in result.output
    assert not [lines for _, lines in transport.sent if "configure terminal" in lines]  # proposing changed nothing
    assert {lines[0].split()[0] for _, lines in transport.sent} == {"show"}  # only the before-state was read
    (action,) = box.approvals.list("demo", "pending")
    assert action.rollback == "interface_no_shutdown device=r2 interface=r2-h2"
    assert (
        "admin up"
        in asyncio.run(box.registry.invoke("interface_status", {"device": "r2", "interface": "r2-h2"}, ctx)).output
    )
    with pytest.raises(ApprovalRefused):  # the proposer may not approve their own change
        asyncio.run(box.approvals.approve("demo", action.id, key_id="proposer", role="admin"))
    with pytest.raises(ApprovalRefused):  # a plain user may not approve
        asyncio.run(box.approvals.approve("demo", action.id, key_id="someone", role="user"))
    done = asyncio.run(box.approvals.approve("demo", action.id, key_id="approver-1", role="approver"))
    assert done.status == "executed" and done.approvals == ("approver-1",)
    changes = [lines for _, lines in transport.sent if "shutdown" in lines]
    assert changes == [("configure terminal", "interface r2-h2", "shutdown")]
    status = asyncio.run(box.registry.invoke("interface_status", {"device": "r2", "interface": "r2-h2"}, ctx)).output
    assert "admin down" in status
    with pytest.raises(ActionNotPending):  # a replayed approval
        asyncio.run(box.approvals.approve("demo", action.id, key_id="approver-2", role="approver"))
    assert len([1 for _, lines in transport.sent if "shutdown" in lines]) == 1  # ran exactly once
    # roll back through the same flow
    asyncio.run(box.registry.invoke("interface_no_shutdown", {"device": "r2", "interface": "r2-h2"}, ctx))
    (undo,) = box.approvals.list("demo", "pending")
    assert asyncio.run(box.approvals.approve("demo", undo.id, key_id="approver-1", role="admin")).status == "executed"
    status = asyncio.run(box.registry.invoke("interface_status", {"device": "r2", "interface": "r2-h2"}, ctx)).output
    assert "admin up" in status


def test_two_person_rule_and_deny(lab: Lab, engine: Engine, tmp_path: Path, transport: CountingTransport) -> None:
    box = two_person_box(lab, engine, tmp_path, transport, expiry=900)
    ctx = box.context("ops2", box.registry.names, role="operator", key_id="op")
    before = ospf_cost(box, "ops2", "edge2", "r2-r3")
    out = asyncio.run(box.registry.invoke("set_ospf_cost", {"device": "edge2", "interface": "r2-r3", "cost": 77}, ctx))
    assert f"- ip ospf cost {before} / + ip ospf cost 77" in out.output and "needs 2 approval(s)" in out.output
    (action,) = box.approvals.list("ops2", "pending")
    assert action.rollback == f"set_ospf_cost device=edge2 interface=r2-r3 cost={before}"
    first = asyncio.run(box.approvals.approve("ops2", action.id, key_id="a1", role="approver"))
    assert first.status == "pending" and ospf_cost(box, "ops2", "edge2", "r2-r3") == before
    with pytest.raises(ApprovalRefused):  # the same person twice is not two people
        asyncio.run(box.approvals.approve("ops2", action.id, key_id="a1", role="approver"))
    second = asyncio.run(box.approvals.approve("ops2", action.id, key_id="a2", role="approver"))
    assert second.status == "executed" and second.approvals == ("a1", "a2")
    assert ospf_cost(box, "ops2", "edge2", "r2-r3") == 77
    asyncio.run(box.registry.invoke("set_ospf_cost", {"device": "edge2", "interface": "r2-r3", "cost": before}, ctx))
    (undo,) = box.approvals.list("ops2", "pending")
    denied = box.approvals.deny("ops2", undo.id, key_id="a1", role="approver")
    assert denied.status == "denied"
    with pytest.raises(ActionNotPending):
        asyncio.run(box.approvals.approve("ops2", undo.id, key_id="a2", role="approver"))
    assert ospf_cost(box, "ops2", "edge2", "r2-r3") == 77
    lab.vtysh("r2", "configure terminal", "interface r2-r3", "no ip ospf cost")  # test clean-up, not a tool


def test_an_expired_action_never_runs(lab: Lab, engine: Engine, tmp_path: Path, transport: CountingTransport) -> None:
    box = two_person_box(lab, engine, tmp_path, transport, expiry=0.05)
    ctx = box.context("ops2", box.registry.names, role="operator", key_id="op")
    asyncio.run(box.registry.invoke("clear_bgp_session", {"device": "edge2", "peer": "10.0.23.2"}, ctx))
    (action,) = box.approvals.list("ops2")
    time.sleep(0.1)
    with pytest.raises(ActionNotPending, match="expired"):
        asyncio.run(box.approvals.approve("ops2", action.id, key_id="a1", role="approver"))
    assert box.approvals.get("ops2", action.id).status == "expired"
    assert not [lines for _, lines in transport.sent if lines[0].startswith("clear")]
    with pytest.raises(ActionNotFound):  # other tenants cannot even see it
        box.approvals.get("demo", action.id)


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    name = f"netops_tools_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    eng = open_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
    yield eng
    eng.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_racing_approvals_on_postgresql_run_the_action_exactly_once(
    lab: Lab, pg_engine: Engine, tmp_path: Path, transport: CountingTransport
) -> None:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "ops1.yaml").write_text(
        (TWO_PERSON % 900).replace("ops2", "ops1").replace("required: 2", "required: 1")
    )
    box = Toolbox.build(
        pg_engine,
        inventory_dir=inventory,
        lab_dir=str(lab.root),
        lab_prefix=lab.prefix,
        transports={"vtysh": transport},
    )
    ctx = box.context("ops1", box.registry.names, role="operator", key_id="op")
    asyncio.run(box.registry.invoke("set_ospf_cost", {"device": "edge2", "interface": "r2-h2", "cost": 50}, ctx))
    (action,) = box.approvals.list("ops1", "pending")
    outcomes: list[str] = []

    def approve(key: str) -> None:
        try:
            outcomes.append(asyncio.run(box.approvals.approve("ops1", action.id, key_id=key, role="approver")).status)
        except ActionNotPending:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(f"a{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["executed", "refused", "refused", "refused"]
    assert len([lines for _, lines in transport.sent if "ip ospf cost 50" in lines]) == 1
    lab.vtysh("r2", "configure terminal", "interface r2-h2", "no ip ospf cost")  # test clean-up, not a tool
